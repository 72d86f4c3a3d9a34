#include "server/memory_budget.h"

#include <chrono>

namespace bv::server {

Result<std::unique_ptr<MemoryBudget::Grant>> MemoryBudget::Draw(uint64_t bytes, int wait_ms, const std::string& what) {
  constexpr uint64_t kMiB = 1 << 20;
  if (bytes > total_) {
    return Status::Busy(what + " needs " + std::to_string(bytes / kMiB) + " MiB, more than the " +
                        std::to_string(total_ / kMiB) + " MiB sessions may draw (memory_budget_mib)");
  }
  std::unique_lock lock(mu_);
  if (!returned_.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] { return drawn_ + bytes <= total_; })) {
    return Status::Busy("the server's memory budget is in use by other sessions (" + std::to_string(drawn_ / kMiB) +
                        " of " + std::to_string(total_ / kMiB) + " MiB); " + what + " waited " +
                        std::to_string(wait_ms / 1000) + " s; retry later");
  }
  drawn_ += bytes;
  return std::unique_ptr<Grant>(new Grant(this, bytes));
}

uint64_t MemoryBudget::drawn() const {
  std::lock_guard lock(mu_);
  return drawn_;
}

void MemoryBudget::Return(uint64_t bytes) {
  bool none_drawn = false;
  {
    std::lock_guard lock(mu_);
    drawn_ -= bytes;
    none_drawn = drawn_ == 0;
  }
  returned_.notify_all();
  if (none_drawn && release_) release_();
}

}  // namespace bv::server
