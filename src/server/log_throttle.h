// Log lines an outsider can cause (failed logins, refused connections) at a bounded rate, so the
// log cannot be flooded: at most `per_second` lines each second, and the first line after a
// quiet spell says how many were left out.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace bv::server {

class LogThrottle {
 public:
  explicit LogThrottle(uint32_t per_second) : per_second_(per_second) {}

  // Whether to log a line now; when it is, `*suffix` is empty or says how many lines were dropped.
  bool Allow(std::string* suffix) {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (now - second_start_ >= std::chrono::seconds(1)) {
      second_start_ = now;
      lines_ = 0;
    }
    if (lines_ >= per_second_) {
      dropped_++;
      return false;
    }
    lines_++;
    suffix->clear();
    if (dropped_ > 0) *suffix = " (" + std::to_string(dropped_) + " similar lines left out)";
    dropped_ = 0;
    return true;
  }

 private:
  const uint32_t per_second_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point second_start_{};
  uint32_t lines_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace bv::server
