// A tenant's quota across its pushes in flight (docs/protocol.md §10). Each push reserves every
// new block before it is written, atomically against the tenant's stored bytes and every other
// push's reservations, so pushes side by side cannot together pass the quota. When a push ends
// (committed, aborted or left for RESUME) its reservation becomes stored bytes, which is what its
// blocks are in the segment files; when no push is in flight the stored bytes are measured anew,
// which counts what an aborted push took back and what deletes and compaction freed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "base/status.h"

namespace bv::server {

class QuotaLedger {
 public:
  class Reservation {
   public:
    ~Reservation() { ledger_->End(reserved_); }
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    // Reserves n more bytes for this push; false when that would pass the quota.
    bool Reserve(uint64_t n) { return ledger_->Take(quota_, n, &reserved_); }
    uint64_t reserved() const { return reserved_; }

   private:
    friend class QuotaLedger;
    Reservation(QuotaLedger* l, uint64_t quota) : ledger_(l), quota_(quota) {}
    QuotaLedger* ledger_;
    const uint64_t quota_;
    uint64_t reserved_ = 0;
  };

  // A push under `quota` bytes for `tenant`; a Quota error when it is reached already. `stored`
  // measures the tenant's stored bytes.
  Result<std::unique_ptr<Reservation>> Begin(const std::string& tenant, uint64_t quota,
                                             const std::function<Result<uint64_t>()>& stored);

 private:
  bool Take(uint64_t quota, uint64_t n, uint64_t* reserved);
  void End(uint64_t reserved);

  std::mutex mu_;
  bool measured_ = false;  // stored_ is current: measured since the last time no push ran
  uint64_t stored_ = 0;    // stored bytes, with the blocks of pushes that have ended since
  uint64_t reserved_ = 0;  // reserved by pushes in flight (and written by them so far)
  uint32_t pushes_ = 0;
};

}  // namespace bv::server
