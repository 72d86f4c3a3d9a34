#include "server/admission.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace bv::server {

Result<std::unique_ptr<Admission::Ticket>> Admission::Admit(const std::string& address, io::Socket* socket,
                                                            const AdmissionLimits& limits) {
  std::lock_guard lock(mu_);
  if (open_ >= limits.max_connections) {
    return Status::Busy("the server has " + std::to_string(limits.max_connections) + " connections open, its limit");
  }
  const size_t pool = std::max<size_t>(1, std::min(limits.max_unauthenticated, limits.max_connections / 2));
  if (waiting_ >= pool && !EvictFor(address)) {
    return Status::Busy("the server has " + std::to_string(pool) + " connections waiting to authenticate, its " +
                        "limit, and " + address + " holds as many of them as any address");
  }
  std::unique_ptr<Ticket> t(new Ticket(this, address, socket));
  waiting_by_address_[address].push_back(t.get());
  waiting_++;
  open_++;
  return t;
}

bool Admission::EvictFor(const std::string& address) {
  auto most = waiting_by_address_.end();
  for (auto it = waiting_by_address_.begin(); it != waiting_by_address_.end(); ++it) {
    if (most == waiting_by_address_.end() || it->second.size() > most->second.size()) most = it;
  }
  auto mine = waiting_by_address_.find(address);
  const size_t own = mine == waiting_by_address_.end() ? 0 : mine->second.size();
  if (most == waiting_by_address_.end() || most->second.size() <= own) return false;
  Ticket* victim = most->second.front();
  spdlog::debug("peer address {}: its oldest connection waiting to authenticate gives its slot to one from {}",
                most->first, address);
  StopWaiting(victim);
  victim->evicted_ = true;
  victim->socket_->Interrupt();  // the ticket, and so its socket, lives until Release takes mu_
  return true;
}

size_t Admission::open() const {
  std::lock_guard lock(mu_);
  return open_;
}

void Admission::StopWaiting(Ticket* t) {
  if (!t->waiting_) return;
  t->waiting_ = false;
  waiting_--;
  auto it = waiting_by_address_.find(t->address_);
  std::erase(it->second, t);
  if (it->second.empty()) waiting_by_address_.erase(it);
}

void Admission::Authenticate(Ticket* t) {
  std::lock_guard lock(mu_);
  StopWaiting(t);
}

void Admission::Release(Ticket* t) {
  std::lock_guard lock(mu_);
  StopWaiting(t);
  open_--;
}

std::string PeerAddress(const std::string& peer) {
  if (!peer.empty() && peer.front() == '[') {
    const size_t close = peer.find(']');
    return close == std::string::npos ? peer : peer.substr(1, close - 1);
  }
  const size_t colon = peer.rfind(':');
  return colon == std::string::npos ? peer : peer.substr(0, colon);
}

}  // namespace bv::server
