// COMPACT and DF (docs/protocol.md §8): compaction of the tenant's volume, and where its disk
// space goes. COMPACT reports each segment as it goes; it stops, durably, when the client goes
// away or the server stops, and the next COMPACT goes on from there.
#include <spdlog/spdlog.h>

#include <atomic>
#include <string>

#include "engine/compact.h"
#include "engine/source_usage.h"
#include "server/protocol_text.h"
#include "server/server.h"
#include "server/session_verbs.h"

namespace bv::server {

namespace {

constexpr const char* kCompactUsage = "COMPACT [threshold=PCT] [max_rate=BYTES_PER_SECOND] [dry_run=true]";

// An option that must be a whole number in [min, max]; nullopt when absent.
Result<std::optional<uint64_t>> NumberOption(const Request& r, const char* key, uint64_t min, uint64_t max) {
  const std::string* v = r.Option(key);
  if (v == nullptr) return std::optional<uint64_t>();
  auto n = ParseDecimal(*v);
  if (!n || *n < min || *n > max) {
    return Status::InvalidArgument(std::string(key) + "=" + *v + ": expected a whole number from " +
                                   std::to_string(min) + " to " + std::to_string(max));
  }
  return std::optional<uint64_t>(*n);
}

std::string SegmentLine(const engine::SegmentUsage& u, const char* kind, bool removed) {
  return std::string(kind) + " segment=" + std::to_string(u.segment) + " bytes=" + std::to_string(u.file_bytes) +
         " live=" + std::to_string(std::min(u.live_bytes, u.file_bytes)) + " removed=" + (removed ? "true" : "false");
}

}  // namespace

bool HandleCompact(SessionContext* ctx, const Request& r) {
  if (!RoleMayDelete(ctx->role)) return ctx->Denied("compact");
  if (!ctx->Arity(r, 0, 0, {"threshold", "max_rate", "dry_run"}, kCompactUsage)) return false;
  engine::CompactOptions opts;
  const std::string* dry = r.Option("dry_run");
  if (dry != nullptr && *dry != "true" && *dry != "false") {
    return ctx->conn.ReplyError(Status::InvalidArgument("dry_run= is true or false, not " + *dry)).ok();
  }
  opts.dry_run = dry != nullptr && *dry == "true";
  auto threshold = NumberOption(r, "threshold", 1, 100);
  auto rate = NumberOption(r, "max_rate", 1, uint64_t{1} << 40);
  if (!threshold.ok()) return ctx->conn.ReplyError(threshold.status()).ok();
  if (!rate.ok()) return ctx->conn.ReplyError(rate.status()).ok();
  if (*threshold) opts.threshold = static_cast<double>(**threshold) / 100.0;
  if (*rate) opts.max_rate = **rate;
  std::atomic<bool> client_gone{false};
  opts.should_stop = [&] { return ctx->server->stopping() || client_gone.load(); };
  opts.on_segment = [&](const engine::SegmentUsage& u, bool removed) {
    if (!ctx->conn.Reply(SegmentLine(u, "SEGMENT", removed)).ok()) client_gone = true;
  };
  auto report = engine::Compact(ctx->tenant->volume(), opts);
  if (client_gone) return false;
  if (!report.ok()) return ctx->conn.ReplyError(report.status()).ok();
  const engine::CompactReport& c = *report;
  if (opts.dry_run) {
    for (const engine::SegmentUsage& u : c.chosen) {
      if (!ctx->conn.Reply(SegmentLine(u, "SEGMENT", false)).ok()) return false;
    }
  }
  for (const std::string& note : c.notes) {
    if (!ctx->conn.Reply("NOTE text=" + EscapeValue(note)).ok()) return false;
  }
  if (c.segments_removed > 0) {
    ctx->Log(spdlog::level::info, "COMPACT removed " + std::to_string(c.segments_removed) + " segments, freed " +
                                      std::to_string(c.bytes_freed) + " bytes");
  }
  return ctx->conn
      .Reply("OK chosen=" + std::to_string(c.chosen.size()) + " removed=" + std::to_string(c.segments_removed) +
             " copied=" + std::to_string(c.bytes_copied) + " freed=" + std::to_string(c.bytes_freed) +
             " reclaimable=" + std::to_string(c.reclaimable_bytes) + " disk=" + std::to_string(c.disk_bytes) +
             " live=" + std::to_string(c.live_bytes) + " dry_run=" + (opts.dry_run ? "true" : "false") +
             " stopped=" + (c.stopped ? "true" : "false"))
      .ok();
}

bool HandleDf(SessionContext* ctx, const Request& r) {
  if (!RoleMayRead(ctx->role)) return ctx->Denied("read the disk use");
  if (!ctx->Arity(r, 0, 0, {}, "DF")) return false;
  engine::Volume* v = ctx->tenant->volume();
  engine::CompactOptions opts;
  opts.dry_run = true;
  auto report = engine::Compact(v, opts);
  if (!report.ok()) return ctx->conn.ReplyError(report.status()).ok();
  auto sources = engine::UsageBySource(v);
  if (!sources.ok()) return ctx->conn.ReplyError(sources.status()).ok();
  for (const auto& [name, u] : *sources) {
    if (!ctx->conn
             .Reply("SOURCE source=" + EscapeValue(name) + " snapshots=" + std::to_string(u.snapshots) +
                    " logical=" + std::to_string(u.logical_bytes) + " new=" + std::to_string(u.new_bytes) +
                    " stored=" + std::to_string(u.stored_bytes) + " unique=" + std::to_string(u.unique_bytes))
             .ok()) {
      return false;
    }
  }
  const engine::CompactReport& c = *report;
  return ctx->conn
      .Reply("OK disk=" + std::to_string(c.disk_bytes) + " live=" + std::to_string(c.live_bytes) +
             " debt=" + std::to_string(c.disk_bytes - c.live_bytes) + " reclaimable=" +
             std::to_string(c.reclaimable_bytes) + " segments=" + std::to_string(c.segments.size()))
      .ok();
}

}  // namespace bv::server
