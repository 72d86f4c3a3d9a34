// JOBS, HISTORY, RUN and CANCEL (docs/protocol.md §8, docs/jobs.md): the tenant's
// jobs, their runs, and starting or cancelling one.
#include <algorithm>
#include <chrono>
#include <future>
#include <string>

#include "base/duration.h"
#include "base/time_format.h"
#include "format/snapshot_format.h"
#include "server/protocol_text.h"
#include "server/server.h"
#include "server/session_verbs.h"

namespace bv::server {

namespace {

constexpr size_t kHistoryDefault = 20;
constexpr int kWaitNoteSeconds = 30;  // well under bvtool's read timeout

std::string TimeOr(int64_t us, const char* none = "-") { return us == 0 ? none : FormatTime(us); }

std::string RunFields(const format::RunRecord& r, bool with_stderr) {
  std::string line = "job=" + EscapeValue(r.job) + " attempt=" + std::to_string(r.attempt) +
                     " trigger=" + format::RunTriggerName(r.trigger) +
                     " result=" + jobs::RunResultName(static_cast<jobs::RunResult>(r.result)) +
                     " scheduled=" + TimeOr(r.scheduled_us) + " start=" + TimeOr(r.start_us) +
                     " end=" + TimeOr(r.end_us) +
                     " exit=" + (r.exit_status ? std::to_string(*r.exit_status) : std::string("-")) +
                     " bytes_in=" + std::to_string(r.bytes_in) + " bytes_stored=" + std::to_string(r.bytes_stored) +
                     " snapshot=" + (r.snapshot != 0 ? format::SnapshotIdHex(r.snapshot) : std::string("-")) +
                     " error=" + EscapeValue(r.error.empty() ? "-" : r.error);
  if (with_stderr) line += " stderr=" + EscapeValue(r.stderr_tail.empty() ? "-" : r.stderr_tail);
  return line;
}

// The tenant's scheduler, or a not-found reply when it has no jobs.
jobs::Scheduler* SchedulerOf(SessionContext* ctx) {
  jobs::Scheduler* s = ctx->tenant->jobs();
  if (s == nullptr) {
    (void)ctx->conn.ReplyError(Status::NotFound("tenant " + ctx->tenant->name() + " has no jobs"));
  }
  return s;
}

}  // namespace

bool HandleJobs(SessionContext* ctx, const Request& r) {
  if (!RoleMayRead(ctx->role)) return ctx->Denied("list the jobs");
  if (!ctx->Arity(r, 0, 0, {}, "JOBS")) return false;
  jobs::Scheduler* s = ctx->tenant->jobs();
  std::vector<jobs::JobState> list;
  if (s != nullptr) {
    auto l = s->List();
    if (!l.ok()) return ctx->conn.ReplyError(l.status()).ok();
    list = std::move(*l);
  }
  const int64_t now_us = NowMicros();
  for (const jobs::JobState& j : list) {
    const char* state = j.running ? "running" : j.waiting ? "waiting" : "idle";
    std::string line = "JOB name=" + EscapeValue(j.spec.name) + " kind=" + jobs::JobKindName(j.spec.kind) +
                       " source=" + EscapeValue(j.spec.source.empty() ? "-" : j.spec.source) +
                       " schedule=" + EscapeValue(j.spec.schedule ? j.spec.schedule->text() : "-") +
                       " zone=" + EscapeValue(j.spec.zone) + " next=" + (j.next_us ? FormatTime(*j.next_us) : "-") +
                       " state=" + state +
                       " last=" + (j.last ? jobs::RunResultName(static_cast<jobs::RunResult>(j.last->result)) : "-") +
                       " last_start=" + (j.last ? TimeOr(j.last->start_us) : "-") +
                       " last_error=" + EscapeValue(j.last && !j.last->error.empty() ? j.last->error : "-") +
                       " last_good=" + (j.last_good ? TimeOr(j.last_good->end_us) : "-") + " last_good_snapshot=" +
                       (j.last_good && j.last_good->snapshot != 0 ? format::SnapshotIdHex(j.last_good->snapshot) : "-") +
                       // Its age by bvd's clock, so that a client's clock does not matter.
                       " last_good_age=" +
                       (j.last_good ? std::to_string(std::max<int64_t>(0, now_us - j.last_good->end_us) / 1000000) : "-");
    if (!ctx->conn.Reply(line).ok()) return false;
  }
  return ctx->conn.Reply("OK jobs=" + std::to_string(list.size())).ok();
}

bool HandleJobHistory(SessionContext* ctx, const Request& r) {
  if (!RoleMayRead(ctx->role)) return ctx->Denied("read the job history");
  if (!ctx->Arity(r, 1, 1, {"limit"}, "HISTORY <job> [limit=N]")) return false;
  size_t limit = kHistoryDefault;
  if (const std::string* l = r.Option("limit")) {
    auto n = ParseDecimal(*l);
    if (!n || *n < 1 || *n > jobs::kHistoryListMax) {
      return ctx->conn.ReplyError(Status::InvalidArgument("limit=" + *l + ": expected 1 to 1000")).ok();
    }
    limit = static_cast<size_t>(*n);
  }
  jobs::Scheduler* s = SchedulerOf(ctx);
  if (s == nullptr) return true;
  auto runs = s->History(r.args[0], limit);
  if (!runs.ok()) return ctx->conn.ReplyError(runs.status()).ok();
  for (const format::RunRecord& run : *runs) {
    if (!ctx->conn.Reply("RUN " + RunFields(run, true)).ok()) return false;
  }
  return ctx->conn.Reply("OK runs=" + std::to_string(runs->size())).ok();
}

bool HandleRunJob(SessionContext* ctx, const Request& r) {
  if (ctx->role != Role::kAdmin) return ctx->Denied("run a job");
  if (!ctx->Arity(r, 1, 1, {"snapshot", "wait"}, "RUN <job> [snapshot=<ref>] [wait=true]")) return false;
  const std::string* wait = r.Option("wait");
  if (wait != nullptr && *wait != "true" && *wait != "false") {
    return ctx->conn.ReplyError(Status::InvalidArgument("wait= is true or false, not " + *wait)).ok();
  }
  jobs::Scheduler* s = SchedulerOf(ctx);
  if (s == nullptr) return true;
  const std::string* snapshot = r.Option("snapshot");
  auto done = s->RunNow(r.args[0], snapshot != nullptr ? *snapshot : "");
  if (!done.ok()) return ctx->conn.ReplyError(done.status()).ok();
  if (wait == nullptr || *wait != "true") return ctx->conn.Reply("OK started=" + EscapeValue(r.args[0])).ok();
  // The run's last attempt, once it ends; a NOTE now and then keeps the client's reads alive.
  while (done->wait_for(std::chrono::seconds(kWaitNoteSeconds)) != std::future_status::ready) {
    if (!ctx->conn.Reply("NOTE text=running").ok()) return false;
  }
  const format::RunRecord& run = done->get();
  if (!ctx->conn.Reply("RUN " + RunFields(run, true)).ok()) return false;
  return ctx->conn.Reply("OK finished=" + EscapeValue(r.args[0]) + " result=" +
                         jobs::RunResultName(static_cast<jobs::RunResult>(run.result))).ok();
}

bool HandleCancelJob(SessionContext* ctx, const Request& r) {
  if (ctx->role != Role::kAdmin) return ctx->Denied("cancel a job");
  if (!ctx->Arity(r, 1, 1, {}, "CANCEL <job>")) return false;
  jobs::Scheduler* s = SchedulerOf(ctx);
  if (s == nullptr) return true;
  if (Status st = s->Cancel(r.args[0]); !st.ok()) return ctx->conn.ReplyError(st).ok();
  return ctx->conn.Reply("OK cancelled=" + EscapeValue(r.args[0])).ok();
}

}  // namespace bv::server
