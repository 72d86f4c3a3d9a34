#include "io/child_process.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/pipe.h"

extern char** environ;

namespace bv::io {

namespace {

// What failed in the child before its exec, as it reports it through a close-on-exec pipe.
enum Stage : int { kStageStdio = 1, kStageCwd, kStageIdentity, kStageExec };
struct Report {
  int stage = 0;
  int err = 0;
};

// fd as the child's descriptor `target` (0, 1 or 2), kept across exec.
bool MoveTo(int fd, int target) {
  if (fd == target) return ::fcntl(fd, F_SETFD, 0) == 0;
  return ::dup2(fd, target) == target;
}

// A descriptor above 0-2 for `fd` (close-on-exec), so that moving one of a child's descriptors to
// its standard place never overwrites another it still needs.
int AboveStdio(int fd) {
  if (fd < 0 || fd > 2) return fd;
  const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  ::close(fd);
  return moved;
}

struct ChildFds {
  int in = -1, out = -1, err = -1;  // the child's ends; -1: leave that descriptor as ours
};

// In the child, between fork and exec: only async-signal-safe calls.
[[noreturn]] void Exec(const ChildSpec& spec, char* const* argv, char* const* envp, const ChildFds& fds, int report,
                       pid_t parent) {
  auto fail = [&](int stage) {
    const Report r{stage, errno};
    if (::write(report, &r, sizeof r) < 0) ::_exit(127);
    ::_exit(127);
  };
  ::setsid();
  ::signal(SIGPIPE, SIG_DFL);  // we ignore it; a command expects the default
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if ((fds.in >= 0 && !MoveTo(fds.in, STDIN_FILENO)) || (fds.out >= 0 && !MoveTo(fds.out, STDOUT_FILENO)) ||
      (fds.err >= 0 && !MoveTo(fds.err, STDERR_FILENO))) {
    fail(kStageStdio);
  }
  if (spec.identity) {
    const ChildSpec::Identity& id = *spec.identity;
    if (::setgroups(id.groups.size(), id.groups.data()) != 0 || ::setgid(id.gid) != 0 || ::setuid(id.uid) != 0) {
      fail(kStageIdentity);
    }
  }
  // After the change of user, which clears it.
  if (spec.die_with_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before the line above
  }
  if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) fail(kStageCwd);
  environ = const_cast<char**>(envp);  // execvp looks argv[0] up in the child's own PATH
  ::execvp(argv[0], argv);
  fail(kStageExec);
  ::_exit(127);
}

std::vector<std::string> EnvironmentOf(const ChildSpec& spec) {
  std::vector<std::string> given = spec.env;
  if (spec.identity) {
    // The user's own, unless the spec sets them: a command run as postgres reads ~postgres/.pgpass.
    const ChildSpec::Identity& id = *spec.identity;
    for (const std::string& e : {"HOME=" + id.home, "USER=" + id.name, "LOGNAME=" + id.name, "SHELL=" + id.shell}) {
      const std::string_view name = std::string_view(e).substr(0, e.find('='));
      bool set = false;
      for (const std::string& g : spec.env) set = set || std::string_view(g).substr(0, g.find('=')) == name;
      if (!set) given.push_back(e);
    }
  }
  std::vector<std::string> out;
  auto overridden = [&](std::string_view entry) {
    const std::string_view name = entry.substr(0, entry.find('='));
    for (const std::string& e : given) {
      if (std::string_view(e).substr(0, e.find('=')) == name) return true;
    }
    return false;
  };
  if (!spec.clear_env) {
    for (char** e = environ; e != nullptr && *e != nullptr; e++) {
      if (!overridden(*e)) out.emplace_back(*e);
    }
  }
  out.insert(out.end(), given.begin(), given.end());
  return out;
}

std::string StageText(int stage, const ChildSpec& spec) {
  switch (stage) {
    case kStageStdio:
      return "cannot set up the standard streams of " + spec.argv[0];
    case kStageCwd:
      return "cannot change to directory " + spec.cwd + " for " + spec.argv[0];
    case kStageIdentity:
      return "cannot become uid " + std::to_string(spec.identity->uid) + " to run " + spec.argv[0];
    default:
      return "cannot run " + spec.argv[0];
  }
}

}  // namespace

Result<ChildSpec::Identity> LookUpUser(const std::string& name) {
  std::vector<char> buf(16384);
  struct passwd pw, *found = nullptr;
  const int rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
  if (rc != 0) return Status::FromErrno("look up user " + name, rc);
  if (found == nullptr) return Status::NotFound("user \"" + name + "\" does not exist");
  ChildSpec::Identity id;
  id.name = name;
  id.uid = pw.pw_uid;
  id.gid = pw.pw_gid;
  id.home = pw.pw_dir != nullptr ? pw.pw_dir : "/";
  id.shell = pw.pw_shell != nullptr && *pw.pw_shell != '\0' ? pw.pw_shell : "/bin/sh";
  int n = 64;
  id.groups.resize(static_cast<size_t>(n));
  while (::getgrouplist(name.c_str(), pw.pw_gid, id.groups.data(), &n) < 0) id.groups.resize(static_cast<size_t>(n));
  id.groups.resize(static_cast<size_t>(n));
  return id;
}

namespace {

// The pipes of a child about to start: its ends (which it gets as 0, 1 and 2) and ours.
struct Stdio {
  ChildFds child;
  int in = -1, out = -1, err = -1;  // ours
  void CloseChildEnds() {
    for (int* fd : {&child.in, &child.out, &child.err}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }
  void CloseAll() {
    CloseChildEnds();
    for (int* fd : {&in, &out, &err}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }
};

// Every descriptor made here is close-on-exec.
Status OpenStdio(const ChildSpec& spec, Stdio* io) {
  if (spec.in == ChildSpec::In::kPipe) {
    BV_ASSIGN_OR_RETURN(Pipe p, OpenPipe(0));
    io->child.in = AboveStdio(p.read_end);
    io->in = p.write_end;
    if (io->child.in < 0) return Status::FromErrno("dup", errno);
  } else {
    io->child.in = AboveStdio(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (io->child.in < 0) return Status::FromErrno("open /dev/null", errno);
  }
  if (spec.out == ChildSpec::Out::kPipe) {
    BV_ASSIGN_OR_RETURN(Pipe p, OpenPipe(0));
    io->child.out = AboveStdio(p.write_end);
    io->out = p.read_end;
    if (io->child.out < 0) return Status::FromErrno("dup", errno);
  }
  if (spec.err_pipe) {
    int e[2];
    if (::pipe2(e, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
    io->child.err = AboveStdio(e[1]);
    io->err = e[0];
    if (io->child.err < 0) return Status::FromErrno("dup", errno);
  }
  return Status::Ok();
}

std::vector<char*> Pointers(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

Result<std::unique_ptr<ChildProcess>> ChildProcess::Start(const ChildSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) return Status::InvalidArgument("no command to run");
  if (spec.identity && ::geteuid() != 0) {
    return Status::Denied("running " + spec.argv[0] + " as uid " + std::to_string(spec.identity->uid) + " needs root");
  }
  std::vector<char*> args = Pointers(spec.argv);
  const std::vector<std::string> env = EnvironmentOf(spec);
  std::vector<char*> envp = Pointers(env);
  Stdio io;
  int report[2] = {-1, -1};
  Status opened = OpenStdio(spec, &io);
  if (opened.ok() && ::pipe2(report, O_CLOEXEC) != 0) opened = Status::FromErrno("pipe", errno);
  if (!opened.ok()) {
    io.CloseAll();
    return opened;
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  const int fork_err = errno;
  if (pid == 0) Exec(spec, args.data(), envp.data(), io.child, report[1], parent);
  io.CloseChildEnds();
  ::close(report[1]);
  if (pid < 0) {
    io.CloseAll();
    ::close(report[0]);
    return Status::FromErrno("fork", fork_err);
  }
  std::unique_ptr<ChildProcess> c(new ChildProcess(pid, spec.argv[0]));
  c->in_ = io.in;
  c->out_ = io.out;
  c->err_ = io.err;
  Report r;
  ssize_t n;
  do {
    n = ::read(report[0], &r, sizeof r);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n > 0) {
    (void)c->Wait();
    return Status::FromErrno(StageText(r.stage, spec), r.err);
  }
  return c;
}

ChildProcess::~ChildProcess() {
  Kill();
  for (int fd : {in_, out_, err_}) {
    if (fd >= 0) ::close(fd);
  }
}

void ChildProcess::CloseIn() {
  if (in_ >= 0) ::close(in_);
  in_ = -1;
}

Result<int> ChildProcess::Reap() {
  std::lock_guard<std::mutex> l(mu_);
  if (status_) return *status_;
  int st = 0;
  for (;;) {
    if (::waitpid(pid_, &st, 0) == pid_) break;
    if (errno != EINTR) return Status::FromErrno("wait for " + name_, errno);  // never "exited 0" unseen
  }
  status_ = st;
  return st;
}

Result<int> ChildProcess::Wait() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (status_) return *status_;
  }
  siginfo_t info = {};
  // Waits without reaping: until Reap, its ids stay its own, so SignalGroup cannot hit another's.
  while (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    std::lock_guard<std::mutex> l(mu_);
    if (status_) return *status_;  // another thread reaped it meanwhile
    return Status::FromErrno("wait for " + name_, err);
  }
  return Reap();
}

std::optional<int> ChildProcess::ExitedAlready() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (status_) return status_;
  }
  siginfo_t info = {};
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT | WNOHANG) != 0 || info.si_pid == 0) {
    return std::nullopt;
  }
  auto st = Reap();
  if (!st.ok()) return std::nullopt;
  return *st;
}

void ChildProcess::SignalGroup(int sig) {
  std::lock_guard<std::mutex> l(mu_);
  if (!status_) ::kill(-pid_, sig);
}

void ChildProcess::Kill() {
  SignalGroup(SIGKILL);
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

}  // namespace bv::io
