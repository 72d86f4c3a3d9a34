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
  // `release`: gives the allocator's free memory back to the system; run when nothing is drawn.
  MemoryBudget(uint64_t session_bytes, std::function<void()> release)
      : total_(session_bytes), release_(std::move(release)) {}

  // A session's share, returned when destroyed.
  class Grant {
   public:
    ~Grant() { budget_->Return(bytes_); }
    Grant(const Grant&) = delete;
    Grant& operator=(const Grant&) = delete;
    uint64_t bytes() const { return bytes_; }

   private:
    friend class MemoryBudget;
    Grant(MemoryBudget* b, uint64_t bytes) : budget_(b), bytes_(bytes) {}
    MemoryBudget* budget_;
    uint64_t bytes_;
  };

  // `bytes` for `what` ("a restore"), waiting at most wait_ms for other sessions to return theirs.
  Result<std::unique_ptr<Grant>> Draw(uint64_t bytes, int wait_ms, const std::string& what);
  uint64_t total() const { return total_; }
  uint64_t drawn() const;

 private:
  void Return(uint64_t bytes);

  const uint64_t total_;
  const std::function<void()> release_;
  mutable std::mutex mu_;
  std::condition_variable returned_;
  uint64_t drawn_ = 0;
};

}  // namespace bv::server
