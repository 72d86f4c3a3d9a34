#include "server/config.h"

#include <toml++/toml.h>

#include <set>

#include "io/env.h"
#include "io/tls_certificate.h"
#include "server/config_fields.h"
#include "server/job_config.h"
#include "server/retention_config.h"

namespace bv::server {

namespace {

Status ParseTenant(const toml::table& t, const std::string& origin, size_t index, TenantConfig* out) {
  Fields f(t, origin, "tenant[" + std::to_string(index) + "]");
  BV_RETURN_IF_ERROR(f.String("name", &out->name));
  if (Status s = ValidateTenantName(out->name); !s.ok()) return f.Error(t.get("name"), "name", s.message());
  BV_RETURN_IF_ERROR(f.Integer("quota_bytes", &out->quota_bytes, 0, INT64_MAX));
  BV_RETURN_IF_ERROR(f.Integer("segment_mib", &out->segment_mib, 1, 1 << 20));
  BV_RETURN_IF_ERROR(f.Integer("max_sessions", &out->max_sessions, 1, 4096));
  BV_RETURN_IF_ERROR(f.Integer("zstd_level", &out->zstd_level, 1, 19));
  BV_RETURN_IF_ERROR(f.Integer("idle_timeout_seconds", &out->idle_timeout_s, 1, 86400));
  BV_RETURN_IF_ERROR(f.Bool("append_only", &out->append_only));
  BV_RETURN_IF_ERROR(f.String("client_ca", &out->client_ca));
  BV_RETURN_IF_ERROR(f.Strings("client_cert_fingerprints", "\"AB:CD:…\"", &out->client_fingerprints));
  if (out->client_fingerprints.size() > kClientFingerprintsMax) {
    return f.Error(t.get("client_cert_fingerprints"), "client_cert_fingerprints", "more than 64 fingerprints");
  }
  for (std::string& fp : out->client_fingerprints) {
    auto parsed = io::ParseFingerprint(fp);
    if (!parsed.ok()) return f.Error(t.get("client_cert_fingerprints"), "client_cert_fingerprints", parsed.status().message());
    fp = *parsed;
  }
  if (const toml::node* r = f.Node("retention")) {
    out->retention.emplace();
    BV_RETURN_IF_ERROR(ParseRetention(*r, origin, f.Name("retention"), &*out->retention));
  }
  if (const toml::node* s = f.Node("source")) {
    BV_RETURN_IF_ERROR(ParseSourceRetention(*s, origin, f.Name("source"), &out->source_retention));
  }
  BV_RETURN_IF_ERROR(f.Integer("max_jobs", &out->max_jobs, 1, 64));
  BV_RETURN_IF_ERROR(f.Integer("job_history_days", &out->job_history_days, 1, 3660));
  BV_RETURN_IF_ERROR(ParseNotify(f, t, &out->notify));
  JobTables tables;
  tables.backups = f.Node("job");
  tables.restores = f.Node("restore");
  tables.prunes = f.Node("prune");
  tables.verifies = f.Node("verify");
  BV_RETURN_IF_ERROR(ParseJobs(tables, origin, "tenant[" + std::to_string(index) + "]", &out->jobs));
  for (const jobs::JobSpec& job : out->jobs) {
    if (job.prune && out->RetentionFor(job.source) == nullptr) {
      return f.Error(tables.backups, "job", "job " + job.name + " prunes " + job.source +
                                         ", which has no retention policy (retention, or [[tenant.source]])");
    }
  }
  const toml::node* tokens = f.Node("tokens");
  if (tokens == nullptr || !tokens->is_array() || tokens->as_array()->empty()) {
    return f.Error(tokens, "tokens", "must be a non-empty array of { hash = \"blake2b:…\", role = \"push\" }");
  }
  const toml::array& arr = *tokens->as_array();
  if (arr.size() > kTokensPerTenantMax) return f.Error(tokens, "tokens", "more than 64 tokens");
  for (size_t i = 0; i < arr.size(); i++) {
    const std::string where = "tokens[" + std::to_string(i) + "]";
    if (!arr[i].is_table()) return f.Error(&arr[i], where, "must be a table { hash = …, role = … }");
    Fields tf(*arr[i].as_table(), origin, f.Name(where));
    TokenConfig tc;
    std::string role = "admin";
    BV_RETURN_IF_ERROR(tf.String("hash", &tc.hash));
    if (Status s = ValidateTokenHash(tc.hash); !s.ok()) return tf.Error(&arr[i], "hash", s.message());
    BV_RETURN_IF_ERROR(tf.String("role", &role));
    auto r = ParseRole(role);
    if (!r.ok()) return tf.Error(&arr[i], "role", r.status().message());
    tc.role = *r;
    BV_RETURN_IF_ERROR(tf.NoOthers());
    out->tokens.push_back(std::move(tc));
  }
  return f.NoOthers();
}

}  // namespace

Status ValidateTenantName(std::string_view name) {
  if (name.empty() || name.size() > 64) return Status::InvalidArgument("a tenant name is 1 to 64 bytes");
  for (size_t i = 0; i < name.size(); i++) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && !(i > 0 && (c == '_' || c == '-'))) {
      return Status::InvalidArgument("a tenant name is a-z, 0-9, '_' and '-', starting with a letter or digit");
    }
  }
  return Status::Ok();
}

Result<ServerConfig> ParseConfig(std::string_view text, const std::string& origin) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(origin + ":" + std::to_string(e.source().begin.line) + ":" +
                                   std::to_string(e.source().begin.column) + ": " + std::string(e.description()));
  }
  ServerConfig c;
  Fields f(root, origin, "");
  BV_RETURN_IF_ERROR(f.String("data_dir", &c.data_dir));
  BV_RETURN_IF_ERROR(f.String("key_file", &c.key_file));
  BV_RETURN_IF_ERROR(f.Integer("grace_seconds", &c.grace_s, 0, 86400));
  BV_RETURN_IF_ERROR(f.Integer("max_connections", &c.max_connections, 1, 65536));
  BV_RETURN_IF_ERROR(f.Integer("max_unauthenticated", &c.max_unauthenticated, 1, 65536));
  BV_RETURN_IF_ERROR(f.Integer("login_timeout_seconds", &c.login_timeout_s, 1, 3600));
  BV_RETURN_IF_ERROR(f.Integer("auth_failure_delay_ms", &c.auth_failure_delay_ms, 0, 60000));
  BV_RETURN_IF_ERROR(f.Integer("auth_failures_per_minute", &c.auth_failures_per_minute, 1, 1000000));
  BV_RETURN_IF_ERROR(f.Integer("auth_failure_burst", &c.auth_failure_burst, 1, 1000000));
  BV_RETURN_IF_ERROR(f.Integer("auth_failures_per_minute_global", &c.auth_failures_per_minute_global, 1, 1000000));
  BV_RETURN_IF_ERROR(f.Integer("auth_failure_burst_global", &c.auth_failure_burst_global, 1, 1000000));
  BV_RETURN_IF_ERROR(f.Integer("push_min_bytes_per_second", &c.push_min_bytes_per_second, 0, 1 << 30));
  BV_RETURN_IF_ERROR(f.Integer("push_rate_window_seconds", &c.push_rate_window_s, 1, 86400));
  BV_RETURN_IF_ERROR(f.Integer("memory_budget_mib", &c.memory_budget_mib, 64, 1 << 20));
  BV_RETURN_IF_ERROR(f.Integer("memory_wait_seconds", &c.memory_wait_s, 0, 3600));
  BV_RETURN_IF_ERROR(f.Integer("session_timeout_seconds", &c.session_timeout_s, 60, 30 * 86400));
  BV_RETURN_IF_ERROR(f.Optional("disk_reserve_mib", &c.disk_reserve_mib, 0, 1 << 24));
  BV_RETURN_IF_ERROR(f.Strings("listen", "\"HOST:PORT\" or \"unix:/PATH\"", &c.listen));
  BV_RETURN_IF_ERROR(f.Strings("listen_tls", "\"HOST:PORT\"", &c.listen_tls));
  BV_RETURN_IF_ERROR(f.String("tls_cert", &c.tls_cert));
  BV_RETURN_IF_ERROR(f.String("tls_key", &c.tls_key));
  BV_RETURN_IF_ERROR(f.Bool("allow_plain_remote", &c.allow_plain_remote));
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    return f.Error(root.get(c.tls_cert.empty() ? "tls_key" : "tls_cert"), c.tls_cert.empty() ? "tls_key" : "tls_cert",
                   "tls_cert and tls_key go together");
  }
  if (const toml::node* n = f.Node("tenant"); n != nullptr) {
    if (!n->is_array_of_tables()) return f.Error(n, "tenant", "must be [[tenant]] tables");
    const toml::array& arr = *n->as_array();
    if (arr.size() > kTenantsMax) return f.Error(n, "tenant", "more than 4096 tenants");
    std::set<std::string> names;
    for (size_t i = 0; i < arr.size(); i++) {
      TenantConfig t;
      BV_RETURN_IF_ERROR(ParseTenant(*arr[i].as_table(), origin, i, &t));
      if (!names.insert(t.name).second) {
        return f.Error(&arr[i], "tenant[" + std::to_string(i) + "].name", "\"" + t.name + "\" is named twice");
      }
      c.tenants.push_back(std::move(t));
    }
  }
  BV_RETURN_IF_ERROR(f.NoOthers());
  return c;
}

Result<ServerConfig> LoadConfig(const std::string& path) {
  BV_ASSIGN_OR_RETURN(std::string text, io::ReadSmallFile(path, 4 << 20));
  return ParseConfig(text, path);
}

}  // namespace bv::server
