#include "jobs/restore_run.h"

#include "engine/hold_back_sink.h"
#include "engine/restore.h"
#include "engine/snapshot_ref.h"
#include "jobs/run_support.h"

namespace bv::jobs {

namespace {

// What the consumer must not see before the stream's hash is checked: its last bytes.
constexpr size_t kHoldBack = 64 << 10;

struct Restored {
  RunResult result = RunResult::kOk;
  std::string error;
  std::optional<int> exit_status;
};

// The stream into the consumer; it is killed before its input closes unless all of it came whole.
Restored Feed(engine::Volume* volume, const JobSpec& job, const engine::SnapshotEntry& snap, uint16_t stream,
              const std::optional<io::ChildSpec::Identity>& identity, engine::ThreadPool* pool, RunControl* control,
              StderrTail* tail) {
  io::ChildSpec spec = CommandOf(job, job.consumer, identity);
  spec.in = io::ChildSpec::In::kPipe;
  auto child = io::ChildProcess::Start(spec);
  if (!child.ok()) return {RunResult::kFailed, child.status().message(), std::nullopt};
  control->Attach(child->get());
  PipeWatch watch(child->get());
  std::thread out(DrainInto, (*child)->out_fd(), tail, &watch);
  std::thread err(DrainInto, (*child)->err_fd(), tail, &watch);
  WatchedSink pipe((*child)->in_fd(), "the input of " + (*child)->name(), &watch);
  engine::HoldBackSink sink(&pipe, kHoldBack);
  engine::RestoreOptions opts;
  opts.stream = stream;
  opts.pool = pool;
  Status restored = engine::Restore(volume, snap, opts, &sink);
  if (restored.ok()) restored = sink.Release();
  std::optional<int> ended;
  if (restored.ok()) {
    (*child)->CloseIn();
  } else {
    ended = (*child)->ExitedAlready();  // a consumer that quit broke the restore, not the reverse
    (*child)->Kill();
    (*child)->CloseIn();
  }
  // Its output to the end before it is reaped (the watch's group kill needs it unreaped).
  out.join();
  err.join();
  Result<int> status = (*child)->Wait();
  control->Attach(nullptr);
  const std::string name = (*child)->name();
  if (const std::optional<RunResult> why = control->stopped()) return {*why, StoppedText(*why, job), std::nullopt};
  if (!restored.ok()) {
    if (ended && !io::ChildProcess::Succeeded(*ended)) {
      return {RunResult::kFailed, (*child)->Describe(*ended) + " before the end of its input",
              io::ChildProcess::ShellStatus(*ended)};
    }
    return {RunResult::kFailed, restored.message() + "; " + name + " was killed before the end of its input",
            std::nullopt};
  }
  if (!status.ok()) return {RunResult::kFailed, status.status().message(), std::nullopt};
  if (!io::ChildProcess::Succeeded(*status)) {
    return {RunResult::kFailed, (*child)->Describe(*status) + " after reading the whole stream",
            io::ChildProcess::ShellStatus(*status)};
  }
  return {};
}

}  // namespace

RunOutcome RunRestore(engine::Volume* volume, const JobSpec& job, const std::optional<io::ChildSpec::Identity>& identity,
                      const RestoreRequest& req, RunControl* control) {
  RunOutcome out;
  StderrTail tail(kStderrTailBytes);
  RunWatch watch(control, job.timeout_s);
  auto finish = [&](RunResult r, std::string error, std::optional<int> exit_status = std::nullopt) {
    watch.Done();
    out.result = r;
    out.error = std::move(error);
    out.exit_status = exit_status;
    out.stderr_tail = tail.Text();
    return out;
  };
  if (req.backup_first != nullptr) {
    RunOutcome safety = RunBackup(volume, *req.backup_first, req.backup_identity, req.backup_opts, control);
    tail.Append(safety.stderr_tail);
    if (safety.result != RunResult::kOk) {
      return finish(safety.result, "the safety backup (job " + req.backup_first->name + ") did not succeed, so "
                                   "nothing was restored: " + safety.error, safety.exit_status);
    }
  }
  auto snap = engine::ResolveSnapshot(volume->index(), req.snapshot.empty() ? job.source : req.snapshot);
  if (!snap.ok()) return finish(RunResult::kFailed, "no snapshot to restore: " + snap.status().message());
  auto stream = engine::FindStream(snap->record, job.stream);
  if (!stream.ok()) return finish(RunResult::kFailed, stream.status().message());
  out.snapshot = snap->record.id;
  const Restored fed = Feed(volume, job, *snap, *stream, identity, req.pool, control, &tail);
  if (fed.result != RunResult::kOk) return finish(fed.result, "restore: " + fed.error, fed.exit_status);
  out.bytes_in = snap->record.streams[*stream].length;
  if (!job.check.empty()) {
    if (auto failed = RunToEnd(CommandOf(job, job.check, identity), control, &tail)) {
      if (const std::optional<RunResult> why = control->stopped()) return finish(*why, "check: " + StoppedText(*why, job));
      return finish(RunResult::kFailed, "the restore went through; its check failed: " + failed->error,
                    failed->exit_status);
    }
  }
  return finish(RunResult::kOk, "", 0);
}

}  // namespace bv::jobs
