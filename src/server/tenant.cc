#include "server/tenant.h"

#include <spdlog/spdlog.h>

#include "engine/segment_files.h"
#include "io/env.h"

namespace bv::server {

Result<std::unique_ptr<Tenant>> Tenant::Open(const std::string& data_dir, const TenantConfig& cfg,
                                             const engine::Key& appliance_key, io::Backend backend) {
  BV_RETURN_IF_ERROR(ValidateTenantName(cfg.name));
  const std::string dir = data_dir + "/tenants/" + cfg.name;
  const engine::Key key = engine::DeriveTenantKey(appliance_key, cfg.name);
  if (!io::PathExists(dir + "/VOLUME")) {
    // A new tenant gets a new volume; a directory that holds segments or an index without its
    // VOLUME file is an existing volume that lost it, and a new one would hide every backup in it.
    std::vector<uint64_t> segments;
    if (io::PathExists(dir + "/segments")) {
      BV_ASSIGN_OR_RETURN(segments, engine::SegmentFiles(io::SystemEnv(), dir + "/segments").List());
    }
    if (!segments.empty() || io::PathExists(dir + "/index")) {
      return Status::Corruption(dir + "/VOLUME is missing but the directory holds a volume's segments or index; "
                                "`bvtool fsck " + dir + " --repair` writes it again from a segment header");
    }
    BV_RETURN_IF_ERROR(io::MakeDirs(data_dir + "/tenants", 0700));
    engine::InitOptions init;
    init.master_key = key;
    init.segment_size = uint64_t{cfg.segment_mib} << 20;
    std::string unused;
    BV_RETURN_IF_ERROR(engine::Volume::Init(dir, init, &unused));
  }
  engine::OpenOptions open;
  open.master_key = key;
  open.backend = backend;
  open.zstd_level = cfg.zstd_level;
  // The index is a cache of the segments: when it is gone (or a rebuild did not finish), bvd
  // makes it again rather than refuse the tenant. Damage found on the way is logged and worked
  // around; `bvtool fsck` names it.
  if (!io::PathExists(dir + "/index/CURRENT") || io::PathExists(dir + "/REBUILDING")) {
    spdlog::warn("tenant {}: the index of {} is missing or incomplete; rebuilding it from the segments", cfg.name, dir);
    open.rebuild_index = true;
  }
  auto v = engine::Volume::Open(dir, open);
  if (!v.ok()) return v.status();
  for (const std::string& note : (*v)->recovery().notes) {
    if ((*v)->recovery().damaged) {
      spdlog::error("tenant {}: recovery: {}", cfg.name, note);
    } else {
      spdlog::info("tenant {}: recovery: {}", cfg.name, note);
    }
  }
  if (open.rebuild_index) {
    spdlog::warn("tenant {}: index rebuilt from {} segments: {} blocks, {} snapshots{}", cfg.name,
                 (*v)->recovery().segments_scanned, (*v)->recovery().blocks_applied,
                 (*v)->recovery().snapshots_found,
                 (*v)->recovery().damaged ? "; the volume is damaged, run `bvtool fsck`" : "");
  }
  std::unique_ptr<Tenant> t(new Tenant());
  t->name_ = cfg.name;
  t->config_ = cfg;
  t->volume_ = std::move(v).value();
  return t;
}

TenantConfig Tenant::config() const {
  std::lock_guard lock(mu_);
  return config_;
}

void Tenant::Reconfigure(const TenantConfig& cfg) {
  std::lock_guard lock(mu_);
  config_ = cfg;
}

Status Tenant::CheckClientCertificate(const io::TlsSession* tls) const {
  const TenantConfig c = config();
  if (!c.wants_client_certificate()) return Status::Ok();
  if (tls == nullptr) {
    return Status::InvalidArgument("tenant " + name_ + " takes logins over TLS with a client certificate only");
  }
  const std::string fp = tls->PeerFingerprint();
  if (fp.empty()) return Status::InvalidArgument("tenant " + name_ + " needs a client certificate; none was presented");
  for (const std::string& allowed : c.client_fingerprints) {
    if (fp == allowed) return Status::Ok();
  }
  if (c.client_ca.empty()) {
    return Status::InvalidArgument("tenant " + name_ + " does not know the client certificate " + fp);
  }
  if (Status s = tls->VerifyPeer(c.client_ca); !s.ok()) {
    return Status::InvalidArgument("tenant " + name_ + ": " + s.message() + " (certificate " + fp + ")");
  }
  return Status::Ok();
}

std::optional<Role> Tenant::Authenticate(std::string_view token) const {
  std::lock_guard lock(mu_);
  std::optional<Role> role;
  for (const TokenConfig& t : config_.tokens) {
    if (TokenMatches(token, t.hash) && !role) role = t.role;
  }
  return role;
}

bool Tenant::TryEnterSession() {
  const uint32_t max = config().max_sessions;
  uint32_t n = sessions_.load();
  while (n < max) {
    if (sessions_.compare_exchange_weak(n, n + 1)) return true;
  }
  return false;
}

Result<uint64_t> Tenant::UsedBytes() { return volume_->StoredBytes(); }

Result<std::unique_ptr<QuotaLedger::Reservation>> Tenant::ReserveQuota(engine::PutOptions* o) {
  const uint64_t quota = config().quota_bytes;
  if (quota == 0) return std::unique_ptr<QuotaLedger::Reservation>();
  BV_ASSIGN_OR_RETURN(auto r, quota_.Begin(name_, quota, [this] { return UsedBytes(); }));
  o->reserve_new_bytes = [p = r.get()](uint64_t n) { return p->Reserve(n); };
  return r;
}

Status Tenant::Close() {
  if (jobs_) jobs_->Stop();
  return volume_->Close();
}

}  // namespace bv::server
