// LIST, STAT and DELETE (docs/protocol.md §8): what a tenant holds, and removing a snapshot.
#include <spdlog/spdlog.h>

#include <cstdint>
#include <string>
#include <utility>

#include "base/time_format.h"
#include "engine/delete.h"
#include "server/session_verbs.h"

namespace bv::server {

namespace {

// STAT without a snapshot: the tenant itself, for any role.
bool StatTenant(SessionContext* ctx) {
  const TenantConfig cfg = ctx->tenant->config();
  auto used = ctx->tenant->UsedBytes();
  if (!used.ok()) return ctx->conn.LastError(used.status());
  return ctx->conn.Reply("OK tenant=" + ctx->tenant->name() + " role=" + RoleName(ctx->role) + " used=" +
                       std::to_string(*used) + " quota=" + std::to_string(cfg.quota_bytes) + " sessions=" +
                       std::to_string(ctx->tenant->sessions()) + " max_sessions=" + std::to_string(cfg.max_sessions) +
                       " append_only=" + (cfg.append_only ? "true" : "false"))
      .ok();
}

}  // namespace

bool HandleList(SessionContext* ctx, const Request& r) {
  if (!RoleMayRead(ctx->role)) return ctx->Denied("list");
  if (!ctx->Arity(r, 0, 1, {"since", "until"}, "LIST [SOURCE] [since=T] [until=T]")) return false;
  int64_t since = INT64_MIN, until = INT64_MAX;
  for (auto [key, out] : {std::pair{"since", &since}, std::pair{"until", &until}}) {
    if (const std::string* v = r.Option(key)) {
      auto t = ParseTime(*v);
      if (!t.ok()) {
        return ctx->conn.LastError(Status::InvalidArgument(std::string(key) + "=" + *v + ": " + t.status().message()));
      }
      *out = *t;
    }
  }
  const std::string source = r.args.empty() ? "" : r.args[0];
  uint64_t count = 0;
  Status write_status;
  Status s = ctx->tenant->volume()->index()->ForEachSnapshot(source, [&](const engine::SnapshotEntry& e) {
    if (e.record.time_us < since || e.record.time_us > until) return true;
    count++;
    write_status = ctx->conn.Reply("SNAPSHOT " + SnapshotFields(e.record));
    return write_status.ok();
  });
  if (!write_status.ok()) return false;
  if (!s.ok()) return ctx->conn.LastError(s);
  return ctx->conn.Reply("OK count=" + std::to_string(count)).ok();
}

bool HandleStat(SessionContext* ctx, const Request& r) {
  if (!ctx->Arity(r, 0, 1, {}, "STAT [SNAPSHOT]")) return false;
  if (r.args.empty()) return StatTenant(ctx);
  if (!RoleMayRead(ctx->role)) return ctx->Denied("read snapshots");
  auto snap = ctx->Resolve(r.args[0]);
  if (!snap) return true;  // answered; the session goes on
  for (size_t i = 0; i < snap->record.streams.size(); i++) {
    const format::StreamInfo& st = snap->record.streams[i];
    if (!ctx->conn.Reply("STREAM index=" + std::to_string(i) + " name=" + EscapeValue(st.name) + " length=" +
                       std::to_string(st.length) + " chunks=" + std::to_string(st.chunk_count))
             .ok()) {
      return false;
    }
  }
  return ctx->conn.Reply("OK " + SnapshotFields(snap->record)).ok();
}

bool HandleDelete(SessionContext* ctx, const Request& r) {
  if (!RoleMayDelete(ctx->role)) return ctx->Denied("delete");
  if (ctx->tenant->config().append_only) {
    return ctx->conn.LastReply("ERR denied tenant " + ctx->tenant->name() +
                             " is append-only: only retention removes snapshots");
  }
  if (!ctx->Arity(r, 1, 1, {"reason"}, "DELETE <snapshot> [reason=TEXT]")) return false;
  auto snap = ctx->Resolve(r.args[0]);
  if (!snap) return true;  // answered; the session goes on
  const std::string* reason = r.Option("reason");
  Status s = engine::DeleteSnapshot(ctx->tenant->volume(), snap->record, reason ? *reason : "deleted by a client");
  if (!s.ok()) return ctx->conn.ReplyError(s).ok();
  ctx->Log(spdlog::level::info, "DELETE " + format::SnapshotIdHex(snap->record.id));
  return ctx->conn.Reply("OK deleted=" + format::SnapshotIdHex(snap->record.id)).ok();
}

}  // namespace bv::server
