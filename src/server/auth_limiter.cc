#include "server/auth_limiter.h"

#include <algorithm>
#include <cmath>
#include <iterator>

namespace bv::server {

void AuthLimiter::Refill(Bucket* b, uint32_t per_minute, uint32_t burst, Clock::time_point now) {
  const double seconds = std::chrono::duration<double>(now - b->at).count();
  if (seconds > 0) b->tokens = std::min<double>(burst, b->tokens + seconds * per_minute / 60.0);
  b->at = now;
}

uint32_t AuthLimiter::SecondsToOne(const Bucket& b, uint32_t per_minute) {
  return static_cast<uint32_t>(std::ceil((1.0 - b.tokens) * 60.0 / per_minute));
}

Status AuthLimiter::MayTry(const std::string& address, const AuthLimits& limits, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = by_address_.find(address);
  const bool on_record = it != by_address_.end() || by_address_.size() >= kAddressesMax;
  if (it != by_address_.end()) {
    Refill(&it->second, limits.per_minute, limits.burst, now);
    if (it->second.tokens < 1) {
      return Status::Busy("too many failed logins from " + address + "; retry in " +
                          std::to_string(SecondsToOne(it->second, limits.per_minute)) + " s");
    }
  }
  if (global_started_ && on_record) {
    Refill(&global_, limits.global_per_minute, limits.global_burst, now);
    if (global_.tokens < 1) {
      return Status::Busy("too many failed logins on this server; retry in " +
                          std::to_string(SecondsToOne(global_, limits.global_per_minute)) + " s");
    }
  }
  return Status::Ok();
}

void AuthLimiter::Failed(const std::string& address, const AuthLimits& limits, Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (!global_started_) {
    global_ = Bucket{static_cast<double>(limits.global_burst), now};
    global_started_ = true;
  }
  Refill(&global_, limits.global_per_minute, limits.global_burst, now);
  global_.tokens = std::max(0.0, global_.tokens - 1);
  Sweep(limits, now);
  auto it = by_address_.find(address);
  if (it == by_address_.end()) {
    if (by_address_.size() >= kAddressesMax) return;
    it = by_address_.emplace(address, Bucket{static_cast<double>(limits.burst), now}).first;
  }
  Refill(&it->second, limits.per_minute, limits.burst, now);
  it->second.tokens = std::max(0.0, it->second.tokens - 1);
}

// Forgets the addresses whose buckets have filled up again: they have no failure on record.
void AuthLimiter::Sweep(const AuthLimits& limits, Clock::time_point now) {
  if (now - last_sweep_ < std::chrono::seconds(1)) return;
  last_sweep_ = now;
  for (auto it = by_address_.begin(); it != by_address_.end();) {
    Refill(&it->second, limits.per_minute, limits.burst, now);
    it = it->second.tokens >= limits.burst ? by_address_.erase(it) : std::next(it);
  }
}

}  // namespace bv::server
