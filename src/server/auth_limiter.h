// Failed logins, limited by token buckets (docs/protocol.md §4): one per source (the session
// names it: a source address and the tenant tried) and one for the whole server, each refilled at
// its rate per minute up to its burst. A login from a source whose bucket is empty is refused at
// once, its token not checked. The global bucket, once empty, refuses every source with a failure
// on record; a source with none still has its token checked, so that guessing from elsewhere
// cannot lock the database hosts out.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "base/status.h"

namespace bv::server {

struct AuthLimits {
  uint32_t per_minute = 6;
  uint32_t burst = 10;
  uint32_t global_per_minute = 120;
  uint32_t global_burst = 200;
};

class AuthLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // Ok: the login from `address` may have its token checked; Busy: refused, with when to retry.
  Status MayTry(const std::string& address, const AuthLimits& limits, Clock::time_point now = Clock::now());
  // A failed login from `address`: one token from its bucket and one from the global bucket.
  void Failed(const std::string& address, const AuthLimits& limits, Clock::time_point now = Clock::now());

  // Addresses remembered at most; beyond it, a new address counts as one with failures on record.
  static constexpr size_t kAddressesMax = 65536;

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point at{};
  };
  static void Refill(Bucket* b, uint32_t per_minute, uint32_t burst, Clock::time_point now);
  static uint32_t SecondsToOne(const Bucket& b, uint32_t per_minute);
  void Sweep(const AuthLimits& limits, Clock::time_point now);

  std::mutex mu_;
  bool global_started_ = false;
  Bucket global_;
  std::unordered_map<std::string, Bucket> by_address_;
  Clock::time_point last_sweep_{};
};

}  // namespace bv::server
