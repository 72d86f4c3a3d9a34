// bvd's configuration: a TOML file (docs/protocol.md §9), or the embedded default when there is
// none. A bad file is refused whole, with the line and the field that is wrong.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/block_codec.h"
#include "engine/retention.h"
#include "engine/segment_size.h"
#include "jobs/job_spec.h"
#include "server/token.h"

namespace bv::server {

struct TokenConfig {
  std::string hash;  // "blake2b:<hex>"
  Role role = Role::kAdmin;
};

struct TenantConfig {
  std::string name;
  std::vector<TokenConfig> tokens;
  uint64_t quota_bytes = 0;        // 0: no quota
  // Segment size of the tenant's volume, when bvd creates it (a volume keeps the size it was made
  // with). Compaction rewrites whole sealed segments: smaller ones free space in smaller steps.
  uint32_t segment_mib = engine::kDefaultSegmentSize >> 20;
  uint32_t max_sessions = 32;      // connections at once; more are refused with ERR busy
  int zstd_level = engine::kDefaultZstdLevel;  // applies from the next start
  uint32_t idle_timeout_s = 300;   // silence after which a session is dropped
  bool append_only = false;        // nobody deletes; only the appliance's retention does
  // Client certificates (docs/protocol.md §12.3): when either is set, a login to this tenant
  // must come over TLS with a certificate that chains to client_ca or whose SHA-256 fingerprint
  // is listed ("AB:CD:…").
  std::string client_ca;
  std::vector<std::string> client_fingerprints;
  bool wants_client_certificate() const { return !client_ca.empty() || !client_fingerprints.empty(); }
  // Retention (docs/retention.md): the tenant's default, and sources' own policies, each of which
  // replaces the default for its source. PRUNE without keep options applies them.
  std::optional<engine::RetentionPolicy> retention;
  std::map<std::string, engine::RetentionPolicy> source_retention;
  // Jobs (docs/jobs.md): backups bvd takes itself, at most max_jobs at once; their runs are kept
  // in the history for job_history_days.
  std::vector<jobs::JobSpec> jobs;
  // Run with a run's record as JSON on its standard input when the run fails for good (none: empty).
  std::vector<std::string> notify;
  uint32_t max_jobs = 1;
  uint32_t job_history_days = 90;
  // The policy of `source`, or nullptr when neither it nor the tenant has one.
  const engine::RetentionPolicy* RetentionFor(const std::string& source) const {
    auto it = source_retention.find(source);
    if (it != source_retention.end()) return &it->second;
    return retention ? &*retention : nullptr;
  }
};

struct ServerConfig {
  std::string data_dir;
  std::string key_file;            // empty: DefaultKeyDir()/<appliance id>.key
  std::vector<std::string> listen;      // plain TCP (loopback unless allow_plain_remote) or unix:
  std::vector<std::string> listen_tls;  // TLS (docs/protocol.md §12)
  std::string tls_cert, tls_key;        // empty: DATA/tls/cert.pem and key.pem, made on first start
  bool allow_plain_remote = false;      // plain TCP on addresses other hosts can reach
  uint32_t grace_s = 30;           // on SIGTERM, how long sessions get to finish
  uint32_t max_connections = 256;
  // Connections that have not authenticated yet (at most half of max_connections): the rest stays
  // for authenticated sessions (docs/protocol.md §10).
  uint32_t max_unauthenticated = 64;
  uint32_t login_timeout_s = 10;   // from the connection's accept to its successful AUTH, in all
  uint32_t auth_failure_delay_ms = 1000;
  // Failed logins: a token bucket per source address and one for all of them (per minute, burst).
  uint32_t auth_failures_per_minute = 6;
  uint32_t auth_failure_burst = 10;
  uint32_t auth_failures_per_minute_global = 120;
  uint32_t auth_failure_burst_global = 200;
  // A push's bytes: at least this many per second, averaged over each window (0: no floor).
  uint32_t push_min_bytes_per_second = 1024;
  uint32_t push_rate_window_s = 300;
  // Memory that sessions' restores and pushes draw from; a session waits this long for its share.
  uint32_t memory_budget_mib = 256;
  uint32_t memory_wait_s = 10;
  uint32_t session_timeout_s = 86400;  // a resumable push not resumed for this long is forgotten
  // Free disk space pushes leave alone, so that prune and compaction can still run on a full disk
  // (compaction copies up to a segment's live bytes before it frees the segment). Unset: the
  // smaller of kDiskReserveDefaultMib and a twentieth of the file system.
  std::optional<uint32_t> disk_reserve_mib;
  std::vector<TenantConfig> tenants;
};

inline constexpr char kDefaultListen[] = "127.0.0.1:7780";
inline constexpr uint32_t kDiskReserveDefaultMib = 512;
inline constexpr size_t kTenantsMax = 4096;
inline constexpr size_t kTokensPerTenantMax = 64;
inline constexpr size_t kClientFingerprintsMax = 64;

// Tenant names: 1 to 64 of a-z, 0-9, '_' and '-', starting with a letter or digit.
Status ValidateTenantName(std::string_view name);

// `origin` names the text in errors ("bvd.toml").
Result<ServerConfig> ParseConfig(std::string_view text, const std::string& origin);
Result<ServerConfig> LoadConfig(const std::string& path);

}  // namespace bv::server
