#include "tools/bvtool/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include "io/pipe.h"

namespace bv::tool {

namespace {

// The process group of the command that runs (one at a time), for the signal handler.
volatile sig_atomic_t g_child_group = 0;

void KillChildThenDie(int sig) {
  const pid_t group = g_child_group;
  if (group > 0) ::kill(-group, SIGKILL);
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// Any exit of bvtool while the command runs (an error's exit(1) included) kills it first, before
// the kernel closes bvtool's end of the pipe.
void KillChildAtExit() {
  const pid_t group = g_child_group;
  if (group > 0) ::kill(-group, SIGKILL);
}

void KillChildOnSignalsAndExit() {
  struct sigaction sa = {};
  sa.sa_handler = KillChildThenDie;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::sigaction(sig, &sa, nullptr);
  static const bool at_exit = std::atexit(KillChildAtExit) == 0;
  (void)at_exit;
}

// fd as the child's descriptor `target` (0 or 1), kept across exec.
bool MoveTo(int fd, int target) {
  if (fd == target) return ::fcntl(fd, F_SETFD, 0) == 0;
  return ::dup2(fd, target) == target;
}

// In the child, between fork and exec: only async-signal-safe calls. On failure the errno goes to
// `report` (close-on-exec, so the parent reads nothing when exec succeeds).
[[noreturn]] void Exec(char* const* argv, int in, int out, int report, pid_t parent) {
  ::setsid();
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);  // bvtool died before the line above
  ::signal(SIGPIPE, SIG_DFL);  // bvtool ignores it; a command expects the default
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (MoveTo(in, STDIN_FILENO) && MoveTo(out, STDOUT_FILENO)) ::execvp(argv[0], argv);
  const int err = errno;
  if (::write(report, &err, sizeof err) < 0) ::_exit(127);
  ::_exit(127);
}

}  // namespace

Result<std::unique_ptr<ChildProcess>> ChildProcess::Start(const std::vector<std::string>& argv, Side side) {
  if (argv.empty() || argv[0].empty()) return Status::InvalidArgument("no command after --");
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  BV_ASSIGN_OR_RETURN(io::Pipe data, io::OpenPipe(0));
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    const int err = errno;
    ::close(data.read_end);
    ::close(data.write_end);
    return Status::FromErrno("pipe", err);
  }
  const bool producer = side == Side::kProducer;
  const int null_fd = producer ? ::open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;
  const int child_in = producer ? null_fd : data.read_end;
  const int child_out = producer ? data.write_end : STDOUT_FILENO;
  const int ours = producer ? data.read_end : data.write_end;
  const pid_t parent = ::getpid();
  KillChildOnSignalsAndExit();
  const pid_t pid = child_in < 0 ? -1 : ::fork();
  const int fork_err = errno;
  if (pid == 0) Exec(args.data(), child_in, child_out, report[1], parent);
  if (null_fd >= 0) ::close(null_fd);
  ::close(producer ? data.write_end : data.read_end);
  ::close(report[1]);
  if (pid < 0) {
    ::close(ours);
    ::close(report[0]);
    return Status::FromErrno(child_in < 0 ? "open /dev/null" : "fork", fork_err);
  }
  g_child_group = pid;  // its own group, made by setsid: kill(-pid) reaches it even before exec
  std::unique_ptr<ChildProcess> child(new ChildProcess(pid, ours, argv[0]));
  int exec_err = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &exec_err, sizeof exec_err);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n > 0) {
    (void)child->Wait();
    return Status::FromErrno("cannot run " + argv[0], exec_err);
  }
  return child;
}

ChildProcess::~ChildProcess() {
  Kill();
  ClosePipe();
}

void ChildProcess::ClosePipe() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<int> ChildProcess::Wait() {
  if (status_) return *status_;
  int st = 0;
  for (;;) {
    if (::waitpid(pid_, &st, 0) == pid_) break;
    if (errno != EINTR) return Status::FromErrno("wait for " + name_, errno);
  }
  status_ = st;
  g_child_group = 0;
  return st;
}

std::optional<int> ChildProcess::ExitedAlready() {
  if (status_) return status_;
  int st = 0;
  if (::waitpid(pid_, &st, WNOHANG) != pid_) return std::nullopt;
  status_ = st;
  g_child_group = 0;
  return st;
}

void ChildProcess::Kill() {
  if (status_) return;
  ::kill(-pid_, SIGKILL);
  (void)Wait();
}

std::string ChildProcess::Describe(int wait_status) const {
  if (WIFEXITED(wait_status)) return name_ + " exited with status " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    return name_ + " was killed by signal " + std::to_string(sig) + " (" + ::strsignal(sig) + ")";
  }
  return name_ + " ended with wait status " + std::to_string(wait_status);
}

int ChildProcess::ShellStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

bool ChildProcess::Succeeded(int wait_status) { return WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0; }

}  // namespace bv::tool
