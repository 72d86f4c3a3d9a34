#include "server/memory_budget.h"

#include <chrono>

namespace bv::server {

namespace {

constexpr uint64_t kMiB = 1 << 20;

std::string MiB(uint64_t bytes) { return std::to_string(bytes / kMiB); }

}  // namespace

Result<std::unique_ptr<MemoryBudget::Grant>> MemoryBudget::Draw(uint64_t bytes, Use use, const std::string& tenant,
                                                                int wait_ms, const std::string& what) {
  const bool read = use == Use::kRead;
  const uint64_t limit = read ? reads_max_ : total_;
  if (bytes > limit) {
    return Status::Busy(what + " needs " + MiB(bytes) + " MiB, more than the " + MiB(limit) +
                        " MiB sessions may draw for it (memory_budget_mib)");
  }
  std::unique_lock lock(mu_);
  std::string why;
  const auto fits = [&] {
    why = WhyNot(bytes, use, tenant);
    return why.empty();
  };
  if (!returned_.wait_for(lock, std::chrono::milliseconds(wait_ms), fits)) {
    return Status::Busy(why + "; " + what + " waited " + std::to_string(wait_ms / 1000) + " s; retry later");
  }
  drawn_ += bytes;
  Held& h = held_[tenant];
  h.all += bytes;
  if (read) {
    reads_drawn_ += bytes;
    h.reads += bytes;
  }
  return std::unique_ptr<Grant>(new Grant(this, tenant, bytes, use));
}

std::string MemoryBudget::WhyNot(uint64_t bytes, Use use, const std::string& tenant) const {
  const bool read = use == Use::kRead;
  if (drawn_ + bytes > total_) {
    return "the server's memory budget is in use by other sessions (" + MiB(drawn_) + " of " + MiB(total_) + " MiB)";
  }
  if (read && reads_drawn_ + bytes > reads_max_) {
    return "the server's memory budget is in use by other sessions (" + MiB(reads_drawn_) + " of " +
           MiB(reads_max_) + " MiB that restores and verifies may hold)";
  }
  auto it = held_.find(tenant);
  if (tenants_ < 2 || it == held_.end()) return "";  // a tenant's first share is never refused for fairness
  const Held& h = it->second;
  if (h.all + bytes > total_ / 2 || (read && h.reads + bytes > reads_max_ / 2)) {
    const bool reads = read && h.reads + bytes > reads_max_ / 2;
    return "the server's memory budget is in use by other sessions of tenant " + tenant + " (" +
           MiB(reads ? h.reads : h.all) + " MiB, and one tenant may hold at most half of the " +
           MiB(reads ? reads_max_ : total_) + " MiB" + (reads ? " that restores and verifies may hold" : "") + ")";
  }
  return "";
}

void MemoryBudget::SetTenantCount(size_t n) {
  {
    std::lock_guard lock(mu_);
    tenants_ = n;
  }
  returned_.notify_all();
}

uint64_t MemoryBudget::drawn() const {
  std::lock_guard lock(mu_);
  return drawn_;
}

void MemoryBudget::Return(const std::string& tenant, uint64_t bytes, Use use) {
  bool none_drawn = false;
  {
    std::lock_guard lock(mu_);
    drawn_ -= bytes;
    auto it = held_.find(tenant);
    it->second.all -= bytes;
    if (use == Use::kRead) {
      reads_drawn_ -= bytes;
      it->second.reads -= bytes;
    }
    if (it->second.all == 0) held_.erase(it);
    none_drawn = drawn_ == 0;
  }
  returned_.notify_all();
  if (none_drawn && release_) release_();
}

}  // namespace bv::server
