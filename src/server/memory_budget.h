// The memory bvd's sessions draw from (docs/protocol.md §10): `memory_budget_mib`, less what is
// set aside at start for every connection's line buffer and the pushes' shared batches. A
// restore, a verify or a push takes its share before it starts and gives it back when it ends;
// one that cannot get it within `memory_wait_seconds` is refused with ERR busy. When the last
// share comes back, bvd hands freed memory back to the system.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "base/status.h"

namespace bv::server {

class MemoryBudget {
 public:
  // What a share is for. Reads (restores, verifies) may hold at most `reads_max` together, so that
  // restores whose clients stop reading cannot keep every push waiting: the rest stays for pushes.
  enum class Use { kPush, kRead };

  // `release`: gives the allocator's free memory back to the system; run when nothing is drawn.
  MemoryBudget(uint64_t session_bytes, uint64_t reads_max, std::function<void()> release)
      : total_(session_bytes), reads_max_(reads_max), release_(std::move(release)) {}

  // A session's share, returned when destroyed.
  class Grant {
   public:
    ~Grant() { budget_->Return(bytes_, use_); }
    Grant(const Grant&) = delete;
    Grant& operator=(const Grant&) = delete;
    uint64_t bytes() const { return bytes_; }

   private:
    friend class MemoryBudget;
    Grant(MemoryBudget* b, uint64_t bytes, Use use) : budget_(b), bytes_(bytes), use_(use) {}
    MemoryBudget* budget_;
    uint64_t bytes_;
    Use use_;
  };

  // `bytes` for `what` ("a restore"), waiting at most wait_ms for other sessions to return theirs.
  Result<std::unique_ptr<Grant>> Draw(uint64_t bytes, Use use, int wait_ms, const std::string& what);
  uint64_t total() const { return total_; }
  uint64_t drawn() const;

 private:
  void Return(uint64_t bytes, Use use);

  const uint64_t total_;
  const uint64_t reads_max_;
  const std::function<void()> release_;
  mutable std::mutex mu_;
  std::condition_variable returned_;
  uint64_t drawn_ = 0;
  uint64_t reads_drawn_ = 0;
};

}  // namespace bv::server
