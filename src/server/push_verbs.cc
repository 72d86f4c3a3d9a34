// PUT (docs/protocol.md §5), a raw push read to the client's half-close; BEGIN and RESUME (§6), a
// resumable push in frames: DATA, STREAM, END, SYNC, COMMIT, ABORT, one function each.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "base/time_format.h"
#include "engine/put_session.h"
#include "server/connection_streams.h"
#include "server/protocol_text.h"
#include "server/push_time.h"
#include "server/server.h"
#include "server/session_verbs.h"

namespace bv::server {

namespace {

constexpr int kResumeWaitMs = 5000;  // for the connection a session came from to let go

// A session's push: on the shared workers, within the server's batch budget.
engine::PutOptions PushSettings(SessionContext* ctx) {
  engine::PutOptions o;
  o.pool = ctx->server->pool();
  o.budget = ctx->server->budget();
  o.batch_input = kSessionBatchInput;
  o.disk_reserve = ctx->server->DiskReserve();
  // Only an admin token may place a snapshot under existing ones (push_time.h).
  o.date_after_newest = ctx->role != Role::kAdmin;
  return o;
}

// PUT's options, checked before any byte of the push is read.
Status PutRequestOptions(SessionContext* ctx, const Request& r, engine::PutOptions* o, std::optional<uint64_t>* size) {
  o->source = r.args[0];
  if (const std::string* l = r.Option("label")) o->label = *l;
  BV_RETURN_IF_ERROR(format::ValidateSourceName(o->source));
  BV_RETURN_IF_ERROR(format::ValidateLabel(o->label, "label"));
  if (const std::string* v = r.Option("size")) {
    *size = ParseDecimal(*v);
    if (!*size) return Status::InvalidArgument("size=" + *v + ": expected a number");
  }
  if (const std::string* t = r.Option("time")) {
    BV_ASSIGN_OR_RETURN(o->time_us, ParseTime(*t));
    BV_RETURN_IF_ERROR(CheckPushTime(ctx->role, ctx->tenant->volume()->index(), o->source, *o->time_us, NowMicros()));
  }
  return Status::Ok();
}

std::string Position(const engine::PutSession& ps) {
  return "streams=" + std::to_string(ps.streams_done()) + " open=" + (ps.in_stream() ? "1" : "0") +
         " offset=" + std::to_string(ps.in_stream() ? ps.offset() : 0);
}

// One framed session on this connection, from its BEGIN or RESUME to COMMIT, ABORT or the end of
// the connection (which leaves it at its last sync, ready for RESUME). Each frame's function
// returns false when the session ends here.
class FramedSession {
 public:
  FramedSession(SessionContext* ctx, std::unique_ptr<engine::PutSession> ps, int idle_ms)
      : ctx_(ctx), conn_(&ctx->conn), ps_(std::move(ps)), idle_ms_(idle_ms) {}

  bool Run() {
    // Frames and their lines alike: a session trickled a byte at a time ends.
    const ServerConfig settings = ctx_->server->settings();
    conn_->StartRateFloor(settings.push_min_bytes_per_second, settings.push_rate_window_s);
    for (;;) {
      auto line = conn_->ReadLine(idle_ms_, /*interruptible=*/false);
      if (!line.ok() || !*line) {
        ctx_->Log(spdlog::level::info, Name() + " left at its last sync: " +
                                           (line.ok() ? std::string("connection closed") : line.status().ToString()));
        if (!line.ok()) conn_->LastError(line.status());
        return false;
      }
      auto req = ParseRequest(**line);
      if (!req.ok()) return conn_->LastError(req.status());
      if (!Frame(*req)) return false;
    }
  }

 private:
  bool Frame(const Request& f) {
    const bool bare = f.args.empty() && f.options.empty();
    if (f.verb == "DATA") return Data(f);
    if (f.verb == "STREAM") return Stream(f);
    if (f.verb == "END" && bare) return Proceed("END", ps_->EndStream());
    if (f.verb == "SYNC" && bare) return Sync();
    if (f.verb == "COMMIT" && bare) return Commit();
    if (f.verb == "ABORT" && bare) return Abort();
    return Refuse("ERR bad-request in a session: DATA, STREAM, END, SYNC, COMMIT or ABORT, not " + f.verb);
  }

  // DATA <n>: read into the session's batch as it arrives. A frame cut short by a lost connection
  // leaves the session at its last sync, like any bytes after it.
  bool Data(const Request& f) {
    const auto size = f.args.size() == 1 && f.options.empty() ? ParseDecimal(f.args[0]) : std::nullopt;
    const uint64_t n = size.value_or(0);
    if (n == 0 || n > kFrameMax) {
      return Refuse("ERR bad-request usage: DATA <1 to " + std::to_string(kFrameMax) + " bytes>");
    }
    FrameInput in(conn_, idle_ms_, n);
    Status st;
    while (st.ok() && in.left() > 0) {
      auto got = ps_->WriteFrom(&in);
      if (!in.failed().ok()) {
        ctx_->Log(spdlog::level::info, Name() + ": connection lost inside a frame: " + in.failed().ToString());
        return conn_->LastError(in.failed());
      }
      if (!got.ok()) st = got.status();
    }
    return Proceed("DATA", st);
  }

  bool Stream(const Request& f) {
    if (f.args.size() > 1 || !f.options.empty()) return Refuse("ERR bad-request usage: STREAM [name]");
    return Proceed("STREAM", ps_->StartStream(f.args.empty() ? "" : f.args[0]));
  }

  bool Sync() {
    if (Status st = ps_->Sync(); !st.ok()) return Proceed("SYNC", st);
    ctx_->Log(spdlog::level::debug, Name() + " synced " + Position(*ps_));
    return conn_->Reply("OK " + Position(*ps_)).ok();
  }

  bool Commit() {
    auto rec = ps_->Commit();
    if (!rec.ok()) return conn_->LastError(rec.status());
    ctx_->Log(spdlog::level::info, "COMMIT " + SnapshotFields(*rec));
    return conn_->LastReply("OK " + SnapshotFields(*rec));
  }

  bool Abort() {
    Status st = ps_->Abort();
    if (st.ok()) return conn_->LastReply("OK aborted=" + format::SnapshotIdHex(ps_->id()));
    return Proceed("ABORT", st);
  }

  // A frame refused: its error line, then what the client still sends is read and dropped, so
  // that it reads the line rather than a reset. Always false.
  bool Refuse(const std::string& line) {
    conn_->LastReply(line);
    conn_->DrainInput();
    return false;
  }

  // A frame's outcome: on to the next frame, or the session's failure replied and logged.
  bool Proceed(const char* verb, const Status& st) {
    if (st.ok()) return true;
    ctx_->Log(spdlog::level::warn, Name() + " " + verb + ": " + st.ToString());
    conn_->LastError(st);
    // The client may be in the middle of sending frames: read them, so that it reads our error
    // rather than a reset (closing with unread input resets the connection).
    conn_->DrainInput();
    return false;
  }

  std::string Name() const { return "session " + format::SnapshotIdHex(ps_->id()); }

  SessionContext* ctx_;
  Connection* conn_;
  std::unique_ptr<engine::PutSession> ps_;
  const int idle_ms_;
};

// BEGIN's arguments into the session's options; false once an error is replied.
bool BeginOptions(SessionContext* ctx, const Request& r, engine::PutOptions* o) {
  if (!ctx->Arity(r, 1, 1, {"label", "time"}, "BEGIN <source> [label=L] [time=T]")) return false;
  o->source = r.args[0];
  if (const std::string* l = r.Option("label")) o->label = *l;
  if (const std::string* t = r.Option("time")) {
    auto tu = ParseTime(*t);
    if (!tu.ok()) return ctx->conn.LastError(Status::InvalidArgument("time=" + *t + ": " + tu.status().message()));
    Status allowed = CheckPushTime(ctx->role, ctx->tenant->volume()->index(), o->source, *tu, NowMicros());
    if (!allowed.ok()) return ctx->conn.LastError(allowed);
    o->time_us = *tu;
  }
  return true;
}

// A new session, its id replied; null once an error is replied.
std::unique_ptr<engine::PutSession> BeginSession(SessionContext* ctx, const engine::PutOptions& o) {
  auto b = engine::PutSession::Begin(ctx->tenant->volume(), o);
  if (!b.ok()) {
    ctx->conn.LastError(b.status());
    return nullptr;
  }
  if (!ctx->conn.Reply("OK session=" + format::SnapshotIdHex((*b)->id())).ok()) return nullptr;
  return std::move(b).value();
}

// The session `arg` names, where it last synced, that position replied; null once an error is.
std::unique_ptr<engine::PutSession> ResumeSession(SessionContext* ctx, const std::string& arg, const engine::PutOptions& o) {
  const std::optional<uint64_t> id = ParseSessionId(arg);
  if (!id) {
    ctx->conn.LastReply("ERR bad-request a session id is 16 hex digits");
    return nullptr;
  }
  // The connection it came from may not have noticed its end yet: give it a moment.
  auto b = engine::PutSession::Resume(ctx->tenant->volume(), *id, o);
  for (int i = 0; i < kResumeWaitMs / 100 && !b.ok() && b.status().code() == Status::Code::kBusy; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    b = engine::PutSession::Resume(ctx->tenant->volume(), *id, o);
  }
  if (!b.ok()) {
    ctx->conn.LastError(b.status());
    return nullptr;
  }
  const engine::PutSession& ps = **b;
  if (!ctx->conn.Reply("OK session=" + format::SnapshotIdHex(ps.id()) + " " + Position(ps)).ok()) return nullptr;
  ctx->Log(spdlog::level::info, "RESUME " + format::SnapshotIdHex(ps.id()) + " " + Position(ps));
  return std::move(b).value();
}

}  // namespace

bool HandlePut(SessionContext* ctx, const Request& r) {
  if (!RoleMayPush(ctx->role)) return ctx->Denied("push");
  if (!ctx->Arity(r, 1, 1, {"label", "size", "time"}, "PUT <source> [label=L] [size=BYTES] [time=T]")) return false;
  const TenantConfig cfg = ctx->tenant->config();
  engine::PutOptions o = PushSettings(ctx);
  std::optional<uint64_t> size;
  Status s = PutRequestOptions(ctx, r, &o, &size);
  auto quota = s.ok() ? ctx->tenant->ReserveQuota(&o) : Result<std::unique_ptr<QuotaLedger::Reservation>>(s);
  if (!quota.ok()) {
    ctx->conn.LastError(quota.status());
    ctx->conn.DrainInput();
    return false;
  }
  auto memory = ctx->DrawMemory(kPushDraw, MemoryBudget::Use::kPush, "a push");
  if (!memory) {
    ctx->conn.DrainInput();
    return false;
  }
  const ServerConfig settings = ctx->server->settings();
  ctx->conn.StartRateFloor(settings.push_min_bytes_per_second, settings.push_rate_window_s);
  PushInput in(&ctx->conn, static_cast<int>(cfg.idle_timeout_s) * 1000, size);
  const auto start = std::chrono::steady_clock::now();
  auto rec = engine::Put(ctx->tenant->volume(), o, {{"", &in}});
  if (!rec.ok()) {
    ctx->Log(spdlog::level::warn, "PUT " + EscapeValue(o.source) + " failed after " + std::to_string(in.received()) +
                                      " bytes: " + rec.status().ToString());
    ctx->conn.LastError(rec.status());
    ctx->conn.DrainInput();
    return false;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ctx->Log(spdlog::level::info, "PUT " + SnapshotFields(*rec) + " seconds=" + std::to_string(secs));
  return ctx->conn.LastReply("OK " + SnapshotFields(*rec));  // the client half-closed: nothing more can come
}

bool HandleFramed(SessionContext* ctx, const Request& r) {
  if (!RoleMayPush(ctx->role)) return ctx->Denied("push");
  const TenantConfig cfg = ctx->tenant->config();
  engine::PutOptions o = PushSettings(ctx);
  if (r.verb == "BEGIN") {
    if (!BeginOptions(ctx, r, &o)) return false;
  } else if (!ctx->Arity(r, 1, 1, {}, "RESUME <session>")) {
    return false;
  }
  auto quota = ctx->tenant->ReserveQuota(&o);
  if (!quota.ok()) return ctx->conn.LastError(quota.status());
  // Sessions nobody resumed for the timeout are forgotten before a new one starts.
  (void)engine::ExpireSessions(ctx->tenant->volume(),
                               NowMicros() - static_cast<int64_t>(ctx->server->settings().session_timeout_s) * 1000000,
                               nullptr);
  auto memory = ctx->DrawMemory(kPushDraw, MemoryBudget::Use::kPush, "a push");
  if (!memory) return false;
  auto ps = r.verb == "BEGIN" ? BeginSession(ctx, o) : ResumeSession(ctx, r.args[0], o);
  if (!ps) return false;
  return FramedSession(ctx, std::move(ps), static_cast<int>(cfg.idle_timeout_s) * 1000).Run();
}

}  // namespace bv::server
