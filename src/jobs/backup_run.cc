#include "jobs/backup_run.h"

#include <signal.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <thread>

#include "engine/put_session.h"
#include "engine/stream_io.h"
#include "jobs/run_support.h"
#include "jobs/stderr_tail.h"

namespace bv::jobs {

namespace {

constexpr std::array<const char*, 6> kResultNames = {"ok", "failed", "timed-out", "cancelled", "interrupted", "running"};

}  // namespace

const char* RunResultName(RunResult r) { return kResultNames[static_cast<size_t>(r)]; }

std::optional<RunResult> RunResultOfName(std::string_view name) {
  for (size_t i = 0; i < kResultNames.size(); i++) {
    if (name == kResultNames[i]) return static_cast<RunResult>(i);
  }
  return std::nullopt;
}

void RunControl::Stop(RunResult why) {
  std::lock_guard<std::mutex> l(mu_);
  // A cancel outranks a timeout (which the next attempt clears); nothing else replaces a stop.
  if (stopped_ && !(*stopped_ == RunResult::kTimedOut && why != RunResult::kTimedOut)) return;
  stopped_ = why;
  if (child_ != nullptr) child_->SignalGroup(SIGKILL);
  cv_.notify_all();
}

void RunControl::ClearTimeout() {
  std::lock_guard<std::mutex> l(mu_);
  if (stopped_ == RunResult::kTimedOut) stopped_.reset();
}

std::optional<RunResult> RunControl::stopped() const {
  std::lock_guard<std::mutex> l(mu_);
  return stopped_;
}

void RunControl::Attach(io::ChildProcess* child) {
  std::lock_guard<std::mutex> l(mu_);
  child_ = child;
  if (child_ != nullptr && stopped_) child_->SignalGroup(SIGKILL);
}

bool RunControl::WaitStop(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> l(mu_);
  return cv_.wait_until(l, deadline, [&] { return stopped_.has_value(); });
}

namespace {

// Why a stream failed: the result, the error, and the command's exit status when it has one.
struct StreamFailure {
  RunResult result;
  std::string error;
  std::optional<int> exit_status;
};

// One stream: its command's output into the session, until the command ends.
std::optional<StreamFailure> RunStream(engine::PutSession* session, const JobSpec& job, const StreamSpec& stream,
                                       const std::optional<io::ChildSpec::Identity>& identity, RunControl* control,
                                       StderrTail* tail, uint64_t* bytes_in) {
  const std::string where = "stream \"" + stream.name + "\": ";
  auto child = io::ChildProcess::Start(CommandOf(job, stream.argv, identity));
  if (!child.ok()) return StreamFailure{RunResult::kFailed, where + child.status().message(), std::nullopt};
  control->Attach(child->get());
  PipeWatch watch(child->get());
  std::thread drain(DrainInto, (*child)->err_fd(), tail, &watch);
  Status s = session->StartStream(stream.name);
  WatchedInput input((*child)->out_fd(), "the output of " + (*child)->name(), &watch);
  while (s.ok()) {
    auto got = session->WriteFrom(&input);
    if (!got.ok()) s = got.status();
    if (!got.ok() || *got == 0) break;
    *bytes_in += *got;
  }
  if (!s.ok()) (*child)->Kill();  // the put failed (quota, disk): the command need not go on
  // Standard error to its end before the command is reaped: while it is not, the watch can still
  // kill what is left of its group holding the pipe.
  drain.join();
  Result<int> status = (*child)->Wait();
  control->Attach(nullptr);
  if (const std::optional<RunResult> why = control->stopped()) {
    return StreamFailure{*why, where + StoppedText(*why, job), std::nullopt};
  }
  if (!s.ok()) return StreamFailure{RunResult::kFailed, where + s.message() + "; nothing was committed", std::nullopt};
  if (!status.ok()) return StreamFailure{RunResult::kFailed, where + status.status().message(), std::nullopt};
  if (!io::ChildProcess::Succeeded(*status)) {
    return StreamFailure{RunResult::kFailed, where + (*child)->Describe(*status) + "; nothing was committed",
                         io::ChildProcess::ShellStatus(*status)};
  }
  if (Status e = session->EndStream(); !e.ok()) return StreamFailure{RunResult::kFailed, where + e.message(), std::nullopt};
  return std::nullopt;
}

}  // namespace

RunOutcome RunBackup(engine::Volume* volume, const JobSpec& job, const std::optional<io::ChildSpec::Identity>& identity,
                     engine::PutOptions opts, RunControl* control) {
  RunOutcome out;
  StderrTail tail(kStderrTailBytes);
  RunWatch watch(control, job.timeout_s);
  auto finish = [&](RunResult r, std::string error) {
    watch.Done();
    out.result = r;
    out.error = std::move(error);
    out.stderr_tail = tail.Text();
    return out;
  };
  opts.source = job.source;
  opts.label = "job " + job.name;
  opts.time_us.reset();
  auto session = engine::PutSession::Begin(volume, opts);
  if (!session.ok()) return finish(RunResult::kFailed, "cannot begin the snapshot: " + session.status().message());
  for (const StreamSpec& stream : job.streams) {
    if (control->stopped()) break;
    if (auto failed = RunStream(session->get(), job, stream, identity, control, &tail, &out.bytes_in)) {
      (void)(*session)->Abort();
      out.exit_status = failed->exit_status;
      return finish(failed->result, failed->error);
    }
  }
  if (const std::optional<RunResult> why = control->stopped()) {
    (void)(*session)->Abort();
    return finish(*why, StoppedText(*why, job));
  }
  auto record = (*session)->Commit();
  if (!record.ok()) return finish(RunResult::kFailed, "cannot commit the snapshot: " + record.status().message());
  out.snapshot = record->id;
  out.bytes_stored = record->new_bytes;
  out.exit_status = 0;
  return finish(RunResult::kOk, "");
}

}  // namespace bv::jobs
