#include "tools/bvtool/child_process.h"

#include <signal.h>

#include <csignal>
#include <cstdlib>

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

}  // namespace

Result<std::unique_ptr<ChildProcess>> ChildProcess::Start(const std::vector<std::string>& argv, Side side) {
  if (argv.empty() || argv[0].empty()) return Status::InvalidArgument("no command after --");
  io::ChildSpec spec;
  spec.argv = argv;
  spec.in = side == Side::kProducer ? io::ChildSpec::In::kNull : io::ChildSpec::In::kPipe;
  spec.out = side == Side::kProducer ? io::ChildSpec::Out::kPipe : io::ChildSpec::Out::kInherit;
  KillChildOnSignalsAndExit();
  BV_ASSIGN_OR_RETURN(auto child, io::ChildProcess::Start(spec));
  g_child_group = child->pid();  // its own group, made by setsid
  return std::unique_ptr<ChildProcess>(new ChildProcess(std::move(child), side));
}

ChildProcess::~ChildProcess() { Kill(); }

Result<int> ChildProcess::Wait() {
  auto st = child_->Wait();
  if (st.ok()) g_child_group = 0;
  return st;
}

std::optional<int> ChildProcess::ExitedAlready() {
  auto st = child_->ExitedAlready();
  if (st) g_child_group = 0;
  return st;
}

void ChildProcess::Kill() {
  child_->Kill();
  g_child_group = 0;
}

}  // namespace bv::tool
