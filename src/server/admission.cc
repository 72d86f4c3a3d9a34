#include "server/admission.h"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace bv::server {

Result<std::unique_ptr<Admission::Ticket>> Admission::Admit(const std::string& address, io::Socket* socket,
                                                            const AdmissionLimits& limits, Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (open_ >= limits.max_connections) {
    return Status::Busy("the server has " + std::to_string(limits.max_connections) + " connections open, its limit");
  }
  const size_t pool = std::max<size_t>(1, std::min(limits.max_unauthenticated, limits.max_connections / 2));
  if (waiting_ >= pool && !EvictFor(address, now)) {
    return Status::Busy("the server has " + std::to_string(pool) + " connections waiting to authenticate, its " +
                        "limit, and none from an address holding more of them than " + address +
                        " has waited " + std::to_string(kEvictAgeMin.count()) + " s");
  }
  std::unique_ptr<Ticket> t(new Ticket(this, address, socket, now));
  waiting_by_address_[address].push_back(t.get());
  waiting_++;
  open_++;
  return t;
}

bool Admission::EvictFor(const std::string& address, Clock::time_point now) {
  Ticket* victim = FairVictim(address, now);
  if (victim == nullptr) victim = StrangerVictim(address);
  if (victim == nullptr) return false;
  spdlog::debug("peer address {}: its oldest connection waiting to authenticate gives its slot to one from {}",
                victim->address_, address);
  StopWaiting(victim);
  victim->evicted_ = true;
  victim->socket_->Interrupt();  // the ticket, and so its socket, lives until Release takes mu_
  return true;
}

Admission::Ticket* Admission::FairVictim(const std::string& address, Clock::time_point now) const {
  size_t most = 0;
  for (const auto& [a, waiting] : waiting_by_address_) most = std::max(most, waiting.size());
  auto mine = waiting_by_address_.find(address);
  const size_t own = mine == waiting_by_address_.end() ? 0 : mine->second.size();
  if (most <= own) return nullptr;
  Ticket* victim = nullptr;
  for (const auto& [a, waiting] : waiting_by_address_) {
    if (waiting.size() == most && (victim == nullptr || waiting.front()->admitted_ < victim->admitted_)) {
      victim = waiting.front();
    }
  }
  // Addresses holding one each (a flood from many addresses, or many hosts logging in): only a
  // connection that has had its time to log in goes.
  if (most == 1 && now - victim->admitted_ < kEvictAgeMin) return nullptr;
  return victim;
}

Admission::Ticket* Admission::StrangerVictim(const std::string& address) const {
  if (!Known(address)) return nullptr;
  Ticket* victim = nullptr;
  for (const auto& [a, waiting] : waiting_by_address_) {
    if (!Known(a) && (victim == nullptr || waiting.front()->admitted_ < victim->admitted_)) victim = waiting.front();
  }
  return victim;
}

void Admission::Remember(const std::string& address) {
  if (auto it = known_index_.find(address); it != known_index_.end()) {
    known_.splice(known_.begin(), known_, it->second);
    return;
  }
  if (known_.size() >= kKnownAddressesMax) {
    known_index_.erase(known_.back());
    known_.pop_back();
  }
  known_.push_front(address);
  known_index_[address] = known_.begin();
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
  Remember(t->address_);
}

void Admission::Release(Ticket* t) {
  std::lock_guard lock(mu_);
  StopWaiting(t);
  open_--;
}

std::string PeerAddress(const std::string& peer) {
  std::string host = peer;
  if (!peer.empty() && peer.front() == '[') {
    const size_t close = peer.find(']');
    host = close == std::string::npos ? peer : peer.substr(1, close - 1);
  } else if (const size_t colon = peer.rfind(':'); colon != std::string::npos) {
    host = peer.substr(0, colon);
  }
  in6_addr a6{};
  if (::inet_pton(AF_INET6, host.c_str(), &a6) != 1 || IN6_IS_ADDR_LOOPBACK(&a6)) return host;
  if (IN6_IS_ADDR_V4MAPPED(&a6)) {
    char v4[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &a6.s6_addr[12], v4, sizeof v4);
    return v4;
  }
  // One host holds a whole /64 (SLAAC, privacy addresses): count its addresses as one.
  std::memset(&a6.s6_addr[8], 0, 8);
  char v6[INET6_ADDRSTRLEN];
  ::inet_ntop(AF_INET6, &a6, v6, sizeof v6);
  return std::string(v6) + "/64";
}

}  // namespace bv::server
