#include "server/memory_budget.h"

#include <chrono>

namespace bv::server {

Result<std::unique_ptr<MemoryBudget::Grant>> MemoryBudget::Draw(uint64_t bytes, Use use, int wait_ms,
                                                                const std::string& what) {
  constexpr uint64_t kMiB = 1 << 20;
  const bool read = use == Use::kRead;
  const uint64_t limit = read ? reads_max_ : total_;
  if (bytes > limit) {
    return Status::Busy(what + " needs " + std::to_string(bytes / kMiB) + " MiB, more than the " +
                        std::to_string(limit / kMiB) + " MiB sessions may draw for it (memory_budget_mib)");
  }
  std::unique_lock lock(mu_);
  const auto fits = [&] { return drawn_ + bytes <= total_ && (!read || reads_drawn_ + bytes <= reads_max_); };
  if (!returned_.wait_for(lock, std::chrono::milliseconds(wait_ms), fits)) {
    const bool reads_full = read && reads_drawn_ + bytes > reads_max_;
    return Status::Busy("the server's memory budget is in use by other sessions (" +
                        std::to_string((reads_full ? reads_drawn_ : drawn_) / kMiB) + " of " +
                        std::to_string((reads_full ? reads_max_ : total_) / kMiB) + " MiB" +
                        (reads_full ? " that restores and verifies may hold" : "") + "); " + what + " waited " +
                        std::to_string(wait_ms / 1000) + " s; retry later");
  }
  drawn_ += bytes;
  if (read) reads_drawn_ += bytes;
  return std::unique_ptr<Grant>(new Grant(this, bytes, use));
}

uint64_t MemoryBudget::drawn() const {
  std::lock_guard lock(mu_);
  return drawn_;
}

void MemoryBudget::Return(uint64_t bytes, Use use) {
  bool none_drawn = false;
  {
    std::lock_guard lock(mu_);
    drawn_ -= bytes;
    if (use == Use::kRead) reads_drawn_ -= bytes;
    none_drawn = drawn_ == 0;
  }
  returned_.notify_all();
  if (none_drawn && release_) release_();
}

}  // namespace bv::server
