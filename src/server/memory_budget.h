// The memory bvd's sessions draw from (docs/protocol.md §10): `memory_budget_mib`, less what is
// set aside at start for every connection's line buffer and the pushes' shared batches. A
// restore, a verify or a push takes its share before it starts and gives it back when it ends;
// one that cannot get it within `memory_wait_seconds` is refused with ERR busy. When bvd serves
// more than one tenant, a tenant that already holds a share may hold at most half of the budget,
// and half of what reads may hold: one tenant's stalled restores cannot keep the others waiting.
// When the last share comes back, bvd hands freed memory back to the system.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
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
    ~Grant() { budget_->Return(tenant_, bytes_, use_); }
    Grant(const Grant&) = delete;
    Grant& operator=(const Grant&) = delete;
    uint64_t bytes() const { return bytes_; }

   private:
    friend class MemoryBudget;
    Grant(MemoryBudget* b, std::string tenant, uint64_t bytes, Use use)
        : budget_(b), tenant_(std::move(tenant)), bytes_(bytes), use_(use) {}
    MemoryBudget* budget_;
    const std::string tenant_;
    uint64_t bytes_;
    Use use_;
  };

  // `bytes` for `what` ("a restore") of `tenant`, waiting at most wait_ms for other sessions to
  // return theirs.
  Result<std::unique_ptr<Grant>> Draw(uint64_t bytes, Use use, const std::string& tenant, int wait_ms,
                                      const std::string& what);
  // How many tenants bvd serves (at start and on every reload): with more than one, each may
  // hold at most half.
  void SetTenantCount(size_t n);
  uint64_t total() const { return total_; }
  uint64_t drawn() const;

 private:
  struct Held {
    uint64_t all = 0;
    uint64_t reads = 0;
  };
  void Return(const std::string& tenant, uint64_t bytes, Use use);
  // Why `bytes` for `use` of `tenant` does not fit now, or empty if it does (under mu_).
  std::string WhyNot(uint64_t bytes, Use use, const std::string& tenant) const;

  const uint64_t total_;
  const uint64_t reads_max_;
  const std::function<void()> release_;
  mutable std::mutex mu_;
  std::condition_variable returned_;
  uint64_t drawn_ = 0;
  uint64_t reads_drawn_ = 0;
  size_t tenants_ = 1;
  std::map<std::string, Held> held_;  // tenants holding a share; bounded by the tenants configured
};

}  // namespace bv::server
