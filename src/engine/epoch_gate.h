// Who came in before a given moment. Compaction needs two such answers: which puts may hold a
// dedup hit on a segment it fenced off (they began before the fence), and which reads may hold a
// location in a segment it retired (they began before the index stopped pointing there). Each
// of those enters the gate; compaction advances the epoch and waits for everyone who entered
// before it to leave. Memory: one counter per epoch someone is still inside.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>

#include "base/status.h"

namespace bv::engine {

class EpochGate {
 public:
  // Held from entering to leaving.
  class Pass {
   public:
    explicit Pass(EpochGate* gate) : gate_(gate), epoch_(gate->Enter()) {}
    ~Pass() { gate_->Leave(epoch_); }
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;

   private:
    EpochGate* gate_;
    uint64_t epoch_;
  };

  // Starts a new epoch and returns it: whoever enters from now on is at it or later.
  uint64_t Advance() {
    std::lock_guard lock(mu_);
    return ++epoch_;
  }

  // How many ever entered, when nobody is inside now; nullopt otherwise. Two looks that give the
  // same number prove that nobody was inside at any moment between them.
  std::optional<uint64_t> EnteredIfEmpty() {
    std::lock_guard lock(mu_);
    if (!inside_.empty()) return std::nullopt;
    return entered_;
  }

  // Returns true once nobody who entered before `epoch` is inside; false if `should_stop` said
  // so first (it is asked every 100 ms).
  bool WaitFor(uint64_t epoch, const std::function<bool()>& should_stop) {
    std::unique_lock lock(mu_);
    while (!inside_.empty() && inside_.begin()->first < epoch) {
      if (should_stop && should_stop()) return false;
      cv_.wait_for(lock, std::chrono::milliseconds(100));
    }
    return true;
  }

 private:
  uint64_t Enter() {
    std::lock_guard lock(mu_);
    inside_[epoch_]++;
    entered_++;
    return epoch_;
  }
  void Leave(uint64_t epoch) {
    std::lock_guard lock(mu_);
    auto it = inside_.find(epoch);
    BV_ASSERT(it != inside_.end() && it->second > 0);
    if (--it->second == 0) {
      inside_.erase(it);
      cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t epoch_ = 1;                  // under mu_
  uint64_t entered_ = 0;                // under mu_
  std::map<uint64_t, uint64_t> inside_;  // under mu_: epoch -> how many entered at it and are inside
};

}  // namespace bv::engine
