// A tenant at run time: its settings (replaced on SIGHUP), its volume DATA/tenants/<name> (its
// own dedup domain, keyed from the appliance key), and its count of open sessions.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "engine/keys.h"
#include "engine/put_options.h"
#include "engine/volume.h"
#include "io/tls_session.h"
#include "jobs/scheduler.h"
#include "server/config.h"
#include "server/quota_ledger.h"

namespace bv::server {

class Tenant {
 public:
  // Opens the tenant's volume, creating it on first use.
  static Result<std::unique_ptr<Tenant>> Open(const std::string& data_dir, const TenantConfig& cfg,
                                              const engine::Key& appliance_key, io::Backend backend);

  const std::string& name() const { return name_; }
  TenantConfig config() const;
  void Reconfigure(const TenantConfig& cfg);
  // Removed from the configuration: no new logins; open sessions finish.
  void Retire() { retired_ = true; }
  bool retired() const { return retired_; }

  // The role the token grants, if it is one of this tenant's. Every configured hash is compared.
  std::optional<Role> Authenticate(std::string_view token) const;

  // When the tenant asks for client certificates: the connection is TLS (tls not null) and its
  // peer's certificate is one the tenant trusts. Ok for a tenant that asks for none.
  Status CheckClientCertificate(const io::TlsSession* tls) const;

  // A session slot, within max_sessions.
  bool TryEnterSession();
  void LeaveSession() { sessions_--; }
  uint32_t sessions() const { return sessions_; }

  engine::Volume* volume() { return volume_.get(); }
  // Bytes its segment files take: what the quota counts.
  Result<uint64_t> UsedBytes();
  // Its pushes in flight against its quota.
  QuotaLedger* quota() { return &quota_; }
  // A put's share of the quota, reserved block by block through o->reserve_new_bytes (null: the
  // tenant has no quota); an error when the quota is reached already.
  Result<std::unique_ptr<QuotaLedger::Reservation>> ReserveQuota(engine::PutOptions* o);
  // Its jobs (server/tenant_jobs.h); null when it has none configured.
  jobs::Scheduler* jobs() { return jobs_ptr_.load(); }
  // Once: sessions read jobs() meanwhile.
  void set_jobs(std::unique_ptr<jobs::Scheduler> s) {
    jobs_ = std::move(s);
    jobs_ptr_.store(jobs_.get());
  }
  // Stops its jobs, then closes its volume.
  Status Close();

 private:
  Tenant() = default;
  std::string name_;
  mutable std::mutex mu_;
  TenantConfig config_;
  std::atomic<bool> retired_{false};
  std::atomic<uint32_t> sessions_{0};
  std::unique_ptr<engine::Volume> volume_;
  QuotaLedger quota_;
  std::unique_ptr<jobs::Scheduler> jobs_;  // declared after volume_: stopped before it closes
  std::atomic<jobs::Scheduler*> jobs_ptr_{nullptr};
};

}  // namespace bv::server
