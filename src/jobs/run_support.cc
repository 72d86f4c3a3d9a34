#include "jobs/run_support.h"

#include <unistd.h>

#include <cerrno>

namespace bv::jobs {

RunWatch::RunWatch(RunControl* control, uint64_t timeout_s)
    : thread_([this, control, timeout_s] {
        if (!done_.WaitStop(std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s))) {
          control->Stop(RunResult::kTimedOut);
        }
      }) {}

void RunWatch::Done() {
  done_.Stop(RunResult::kOk);
  if (thread_.joinable()) thread_.join();
}

io::ChildSpec CommandOf(const JobSpec& job, const std::vector<std::string>& argv,
                        const std::optional<io::ChildSpec::Identity>& identity) {
  io::ChildSpec spec;
  spec.argv = argv;
  spec.env = job.env;
  spec.cwd = job.dir;
  spec.identity = identity;
  spec.err_pipe = true;
  return spec;
}

void DrainInto(int fd, StderrTail* tail, PipeWatch* watch) {
  char buf[4096];
  for (;;) {
    if (watch != nullptr && !watch->WaitReadable(fd)) return;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    tail->Append(std::string_view(buf, static_cast<size_t>(n)));
  }
}

std::string StoppedText(RunResult why, const JobSpec& job) {
  if (why == RunResult::kTimedOut) {
    return "the run outlived its timeout of " + std::to_string(job.timeout_s) + " s and was killed";
  }
  if (why == RunResult::kInterrupted) return "bvd stopped during the run, which was killed";
  return "the run was cancelled";
}

std::optional<CommandFailure> RunToEnd(const io::ChildSpec& spec, RunControl* control, StderrTail* tail,
                                      std::string_view input) {
  auto child = io::ChildProcess::Start(spec);
  if (!child.ok()) return CommandFailure{child.status().message(), std::nullopt};
  control->Attach(child->get());
  PipeWatch watch(child->get());
  std::thread out, in;
  if ((*child)->out_fd() >= 0) out = std::thread(DrainInto, (*child)->out_fd(), tail, &watch);
  if ((*child)->in_fd() >= 0) {
    // A command that does not read its input gets EPIPE here, not us stuck.
    in = std::thread([&child, &watch, input] {
      WatchedSink sink((*child)->in_fd(), "the input of " + (*child)->name(), &watch);
      (void)sink.Write(input);  // a command that stopped reading says why by its exit status
      (*child)->CloseIn();
    });
  }
  DrainInto((*child)->err_fd(), tail, &watch);
  if (out.joinable()) out.join();
  if (in.joinable()) in.join();
  Result<int> status = (*child)->Wait();
  control->Attach(nullptr);
  if (!status.ok()) return CommandFailure{status.status().message(), std::nullopt};
  if (io::ChildProcess::Succeeded(*status)) return std::nullopt;
  return CommandFailure{(*child)->Describe(*status), io::ChildProcess::ShellStatus(*status)};
}

}  // namespace bv::jobs
