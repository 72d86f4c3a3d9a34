// What one attempt of a job needs, backup or restore: a watchdog for its timeout, its commands
// set up as the job says, their output kept in the bounded tail, and the words for a run stopped
// from outside.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "io/child_process.h"
#include "jobs/backup_run.h"
#include "jobs/pipe_watch.h"
#include "jobs/stderr_tail.h"

namespace bv::jobs {

// Stops the run with kTimedOut when it outlives the job's timeout; Done() (or destruction) ends
// the watch.
class RunWatch {
 public:
  RunWatch(RunControl* control, uint64_t timeout_s);
  ~RunWatch() { Done(); }
  void Done();

 private:
  RunControl done_;
  std::thread thread_;
};

// A command of `job` (argv as given) with the job's environment, directory and user.
io::ChildSpec CommandOf(const JobSpec& job, const std::vector<std::string>& argv,
                        const std::optional<io::ChildSpec::Identity>& identity);

// Reads `fd` to its end into the tail (a command's standard error, or output kept like it), or
// until the watch (if any) gives up on it.
void DrainInto(int fd, StderrTail* tail, PipeWatch* watch = nullptr);

// What a run stopped from outside says: "the run outlived its timeout of 60 s and was killed".
std::string StoppedText(RunResult why, const JobSpec& job);

// Runs argv to its end (its output and error into the tail; `input` on its standard input when
// spec.in is a pipe, else /dev/null): nullopt when it exits 0, else why not (and its shell
// status when it has one).
struct CommandFailure {
  std::string error;
  std::optional<int> exit_status;
};
std::optional<CommandFailure> RunToEnd(const io::ChildSpec& spec, RunControl* control, StderrTail* tail,
                                      std::string_view input = {});

}  // namespace bv::jobs
