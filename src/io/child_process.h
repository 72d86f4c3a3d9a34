// A command run by bv (bvtool's `push -- COMMAND`, bvd's jobs): argv without a shell, in a session
// and process group of its own and without a controlling terminal (a password prompt fails instead
// of stopping it), so that everything it started is killed with it. Its standard streams are
// pipes to us or /dev/null; it can run in another directory, with another environment, and as
// another user when we are root.
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace bv::io {

struct ChildSpec {
  std::vector<std::string> argv;  // argv[0] is looked up in $PATH
  std::vector<std::string> env;   // "NAME=value": added to ours, or all it gets with clear_env
  bool clear_env = false;
  std::string cwd;                // empty: ours
  struct Identity {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;
    std::string home, shell;  // HOME and SHELL, with USER and LOGNAME, unless env sets them
  };
  std::optional<Identity> identity;  // set: become it before exec (we must be root)
  enum class In { kNull, kPipe } in = In::kNull;
  enum class Out { kPipe, kInherit } out = Out::kPipe;
  bool err_pipe = false;  // standard error to a pipe of ours, else to ours
  // The kernel kills it when the thread that started it ends (PR_SET_PDEATHSIG): the process
  // dying kills it too, and a start from a thread that outlives the command is what this needs.
  bool die_with_parent = true;
};

// The user `name`'s ids and groups, for ChildSpec::identity; NotFound names an unknown user.
Result<ChildSpec::Identity> LookUpUser(const std::string& name);

class ChildProcess {
 public:
  // Fails with why if it cannot be run (an unknown command, a cwd that is not there, …).
  static Result<std::unique_ptr<ChildProcess>> Start(const ChildSpec& spec);
  // Kills and reaps it if it still runs.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  // Our ends of its pipes (-1 where it has none).
  int in_fd() const { return in_; }
  int out_fd() const { return out_; }
  int err_fd() const { return err_; }
  // Closes our end of its standard input: it sees the end of its input. Only once that is whole.
  void CloseIn();

  // Waits for it to exit; its wait status (as waitpid gives it). Once reaped, the same again.
  Result<int> Wait();
  // Its wait status if it has exited already, without waiting.
  std::optional<int> ExitedAlready();
  // `sig` to its process group, unless it was reaped already (its ids may then be another's).
  // Safe from any thread, while another waits.
  void SignalGroup(int sig);
  // SIGKILL to its process group, then reaps it. Our end of its input stays open until then, so
  // a consumer never sees the end of its input.
  void Kill();

  // "pg_dump exited with status 1", "pg_dump was killed by signal 9 (Killed)".
  std::string Describe(int wait_status) const;
  // The exit status a shell would give: the command's own, or 128 + the signal.
  static int ShellStatus(int wait_status);
  static bool Succeeded(int wait_status);

 private:
  ChildProcess(pid_t pid, std::string name) : pid_(pid), name_(std::move(name)) {}
  // Reaps it once waitid saw it exit; under mu_, so SignalGroup never signals a reaped group.
  Result<int> Reap();

  const pid_t pid_;
  const std::string name_;
  int in_ = -1, out_ = -1, err_ = -1;
  std::mutex mu_;
  std::optional<int> status_;  // once reaped
};

}  // namespace bv::io
