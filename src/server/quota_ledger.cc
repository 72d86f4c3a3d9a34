#include "server/quota_ledger.h"

namespace bv::server {

Result<std::unique_ptr<QuotaLedger::Reservation>> QuotaLedger::Begin(
    const std::string& tenant, uint64_t quota, const std::function<Result<uint64_t>()>& stored) {
  std::lock_guard lock(mu_);
  if (!measured_) {
    BV_ASSIGN_OR_RETURN(stored_, stored());
    measured_ = true;
  }
  if (stored_ + reserved_ >= quota) {
    return Status::Quota("tenant " + tenant + " uses " + std::to_string(stored_) + " of its " + std::to_string(quota) +
                         " bytes" + (reserved_ > 0 ? ", " + std::to_string(reserved_) + " more reserved by pushes in flight" : ""));
  }
  pushes_++;
  return std::unique_ptr<Reservation>(new Reservation(this, quota));
}

bool QuotaLedger::Take(uint64_t quota, uint64_t n, uint64_t* reserved) {
  std::lock_guard lock(mu_);
  if (stored_ + reserved_ + n > quota) return false;
  reserved_ += n;
  *reserved += n;
  return true;
}

void QuotaLedger::End(uint64_t reserved) {
  std::lock_guard lock(mu_);
  reserved_ -= reserved;
  stored_ += reserved;  // its blocks are in the segment files, committed or not
  if (--pushes_ == 0) measured_ = false;
}

}  // namespace bv::server
