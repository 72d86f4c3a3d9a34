// A floor under a push's input rate (docs/protocol.md §10): a client must send at least
// `min_bytes_per_second` on average over each window of `window_s` seconds, so that a push
// trickled a byte at a time cannot hold its session (and its slot) for ever. The per-read idle
// timeout bounds silence; this bounds slowness.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "base/status.h"

namespace bv::server {

class InputRate {
 public:
  using Clock = std::chrono::steady_clock;

  // A floor of 0 bytes per second is none.
  void Start(uint32_t min_bytes_per_second, uint32_t window_s) {
    min_ = min_bytes_per_second;
    window_ = std::chrono::seconds(window_s);
    window_start_ = Clock::now();
    bytes_ = 0;
  }
  void Stop() { min_ = 0; }

  // Counts n bytes just read; an error once a whole window has passed below the floor.
  Status Add(uint64_t n) {
    if (min_ == 0) return Status::Ok();
    bytes_ += n;
    const Clock::time_point now = Clock::now();
    if (now - window_start_ < window_) return Status::Ok();
    const uint64_t floor = static_cast<uint64_t>(min_) * static_cast<uint64_t>(window_.count());
    if (bytes_ < floor) {
      return Status::TimedOut("the client sent " + std::to_string(bytes_) + " bytes in " +
                              std::to_string(window_.count()) + " s, under the floor of " + std::to_string(min_) +
                              " bytes per second (push_min_bytes_per_second)");
    }
    window_start_ = now;
    bytes_ = 0;
    return Status::Ok();
  }

 private:
  uint32_t min_ = 0;
  std::chrono::seconds window_{0};
  Clock::time_point window_start_{};
  uint64_t bytes_ = 0;
};

}  // namespace bv::server
