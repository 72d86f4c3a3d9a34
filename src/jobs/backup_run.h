// One attempt of a backup job: each stream's command runs in turn, its standard output ingested
// as that stream of one snapshot (the pipeline of a push, with the options the caller gives), its
// standard error kept in a bounded tail. The snapshot is committed only when every command exits
// 0; a command that fails, is killed by a signal, or outlives the job's timeout aborts it, and
// the command's process group is killed. Nothing of an aborted run is committed.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "engine/put_options.h"
#include "engine/volume.h"
#include "io/child_process.h"
#include "jobs/job_spec.h"

namespace bv::jobs {

enum class RunResult { kOk, kFailed, kTimedOut, kCancelled, kInterrupted, kRunning };
// "ok", "failed", "timed-out", "cancelled", "interrupted", "running".
const char* RunResultName(RunResult r);
std::optional<RunResult> RunResultOfName(std::string_view name);

struct RunOutcome {
  RunResult result = RunResult::kFailed;
  std::string error;                // what went wrong, with the command and the stream
  std::optional<int> exit_status;   // the failing command's, as a shell gives it (128 + signal)
  uint64_t bytes_in = 0;            // bytes the commands wrote
  uint64_t bytes_stored = 0;        // new bytes the snapshot added to the volume
  uint64_t snapshot = 0;            // the committed snapshot; 0 when none
  std::string stderr_tail;          // the last kStderrTailBytes of the commands' standard error
  // False for a failure another attempt would not change (and might hide): damage a verify found.
  bool retry = true;
};

// How another thread stops a run: a cancel, or the run's own timeout. The command that runs is
// killed at once, and the run ends with `why`.
class RunControl {
 public:
  void Stop(RunResult why);
  // Before a retry: a timeout ended the attempt, not the run.
  void ClearTimeout();
  std::optional<RunResult> stopped() const;
  // The command now running; null when none.
  void Attach(io::ChildProcess* child);
  // Waits until Stop or until `deadline`; true when it was stopped.
  bool WaitStop(std::chrono::steady_clock::time_point deadline);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  io::ChildProcess* child_ = nullptr;
  std::optional<RunResult> stopped_;
};

// `identity`: the job's user, looked up already (none: run as we are). `opts` carries the
// workers, the budget and the quota the caller grants; its source, label and time are set here.
RunOutcome RunBackup(engine::Volume* volume, const JobSpec& job, const std::optional<io::ChildSpec::Identity>& identity,
                     engine::PutOptions opts, RunControl* control);

}  // namespace bv::jobs
