// A command bvtool runs itself (`push SOURCE -- COMMAND…`, `get SNAPSHOT --into -- COMMAND…`): a
// producer whose standard output is the stream, or a consumer whose standard input is. It runs in
// a session and process group of its own, without a controlling terminal (a password prompt fails
// instead of stopping it in the background), so that bvtool can kill it and everything it started
// at once. If bvtool dies, the kernel kills it too (PR_SET_PDEATHSIG), and SIGINT, SIGTERM,
// SIGHUP and SIGQUIT to bvtool kill it before bvtool goes.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace bv::tool {

class ChildProcess {
 public:
  enum class Side {
    kProducer,  // its standard output is our pipe; its standard input is /dev/null
    kConsumer,  // its standard input is our pipe; its standard output is ours
  };

  // Runs argv (no shell; argv[0] is looked up in $PATH). Fails with why if it cannot be run.
  static Result<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv, Side side);
  // Kills and reaps the command if it still runs.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Our end of the pipe: read a producer's output from it, write a consumer's input to it.
  int fd() const { return fd_; }
  const std::string& name() const { return name_; }
  // Closes our end: a consumer sees the end of its input. Only once it is whole.
  void ClosePipe();

  // Waits for it to exit; its wait status (as waitpid gives it). Once reaped, the same again.
  Result<int> Wait();
  // Its wait status if it has exited already, without waiting.
  std::optional<int> ExitedAlready();
  // SIGKILL to its process group (it and what it started), then reaps it. Our end of the pipe stays
  // open until then, so a consumer never sees the end of its input.
  void Kill();

  // "pg_dump exited with status 1", "pg_dump was killed by signal 9 (Killed)".
  std::string Describe(int wait_status) const;
  // The exit status a shell would give: the command's own, or 128 + the signal.
  static int ShellStatus(int wait_status);
  static bool Succeeded(int wait_status);

 private:
  ChildProcess(pid_t pid, int fd, std::string name) : pid_(pid), fd_(fd), name_(std::move(name)) {}

  const pid_t pid_;
  int fd_;
  const std::string name_;
  std::optional<int> status_;  // once reaped
};

}  // namespace bv::tool
