// Commands run by bv (io/child_process.h): their pipes, environment, directory and user, errors
// that say why a command could not run, and a kill that takes everything the command started.
#include "io/child_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <string>
#include <thread>

#include "tests/test_util.h"

namespace bv::io {
namespace {

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

ChildSpec Sh(const std::string& script) {
  ChildSpec s;
  s.argv = {"sh", "-c", script};
  return s;
}

TEST(ChildProcessTest, OutputErrorsEnvironmentAndDirectory) {
  test::TempDir dir;
  ChildSpec s = Sh("echo out; echo err >&2; echo \"$BV_ONE $HOME\"; pwd; exit 3");
  s.err_pipe = true;
  s.env = {"BV_ONE=one", "HOME=/nowhere"};
  s.cwd = dir.path();
  ASSERT_OK_AND_ASSIGN(auto c, ChildProcess::Start(s));
  EXPECT_EQ(ReadAll(c->out_fd()), "out\none /nowhere\n" + dir.path() + "\n");
  EXPECT_EQ(ReadAll(c->err_fd()), "err\n");
  ASSERT_OK_AND_ASSIGN(int st, c->Wait());
  EXPECT_FALSE(ChildProcess::Succeeded(st));
  EXPECT_EQ(ChildProcess::ShellStatus(st), 3);
  EXPECT_EQ(c->Describe(st), "sh exited with status 3");
}

TEST(ChildProcessTest, TheCommandIsFoundInItsOwnPath) {
  test::TempDir dir;
  const std::string tool = dir / "bv-own-tool";
  {
    std::FILE* f = std::fopen(tool.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("#!/bin/sh\necho found\n", f);
    std::fclose(f);
  }
  ASSERT_EQ(::chmod(tool.c_str(), 0755), 0);
  ChildSpec s;
  s.argv = {"bv-own-tool"};
  s.env = {"PATH=" + dir.path() + ":/usr/bin:/bin"};
  ASSERT_OK_AND_ASSIGN(auto c, ChildProcess::Start(s));
  EXPECT_EQ(ReadAll(c->out_fd()), "found\n");
  ASSERT_OK(c->Wait().status());
}

TEST(ChildProcessTest, AClearedEnvironmentHoldsOnlyWhatIsGiven) {
  ChildSpec s;
  s.argv = {"/usr/bin/env"};
  s.env = {"ONLY=this"};
  s.clear_env = true;
  ASSERT_OK_AND_ASSIGN(auto c, ChildProcess::Start(s));
  EXPECT_EQ(ReadAll(c->out_fd()), "ONLY=this\n");
  ASSERT_OK_AND_ASSIGN(int st, c->Wait());
  EXPECT_TRUE(ChildProcess::Succeeded(st));
}

TEST(ChildProcessTest, AStandardInputPipeIsTheCommandsInput) {
  ChildSpec s;
  s.argv = {"wc", "-c"};
  s.in = ChildSpec::In::kPipe;
  ASSERT_OK_AND_ASSIGN(auto c, ChildProcess::Start(s));
  ASSERT_EQ(::write(c->in_fd(), "12345", 5), 5);
  c->CloseIn();
  EXPECT_EQ(ReadAll(c->out_fd()), "5\n");
  ASSERT_OK(c->Wait().status());
}

TEST(ChildProcessTest, ACommandThatCannotRunSaysWhy) {
  ChildSpec s;
  s.argv = {"bv-no-such-command"};
  auto r = ChildProcess::Start(s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cannot run bv-no-such-command"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("No such file"), std::string::npos) << r.status().message();
  test::TempDir dir;
  s = Sh("true");
  s.cwd = dir / "not-there";
  r = ChildProcess::Start(s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cannot change to directory " + s.cwd), std::string::npos)
      << r.status().message();
  EXPECT_FALSE(LookUpUser("bv-no-such-user").ok());
}

TEST(ChildProcessTest, KillTakesWhatTheCommandStarted) {
  // The shell starts a sleep in the background and tells us its pid.
  ASSERT_OK_AND_ASSIGN(auto c, ChildProcess::Start(Sh("sleep 300 & echo $!; wait")));
  std::string line;
  char ch;
  while (::read(c->out_fd(), &ch, 1) == 1 && ch != '\n') line += ch;
  const pid_t grandchild = std::stoi(line);
  ASSERT_EQ(::kill(grandchild, 0), 0);
  std::thread killer([&] { c->SignalGroup(SIGKILL); });  // from another thread, while this one waits
  ASSERT_OK_AND_ASSIGN(int st, c->Wait());
  killer.join();
  EXPECT_TRUE(WIFSIGNALED(st));
  EXPECT_EQ(c->Describe(st), "sh was killed by signal 9 (Killed)");
  // The sleep, reparented to init, goes as soon as init reaps it.
  for (int i = 0; i < 200 && ::kill(grandchild, 0) == 0; i++) ::usleep(10000);
  EXPECT_NE(::kill(grandchild, 0), 0);
  c->SignalGroup(SIGKILL);  // reaped already: signals nobody
}

TEST(ChildProcessTest, RunsAsAnotherUserWhenRoot) {
  if (::geteuid() != 0) {
    ChildSpec s = Sh("id -u");
    s.identity = ChildSpec::Identity{"nobody", 65534, 65534, {}, "/nonexistent", "/bin/sh"};
    EXPECT_FALSE(ChildProcess::Start(s).ok()) << "only root may run a command as another user";
    return;
  }
  ASSERT_OK_AND_ASSIGN(auto nobody, LookUpUser("nobody"));
  ChildSpec s = Sh("id -u; id -g; echo $HOME $USER");
  s.identity = nobody;
  ASSERT_OK_AND_ASSIGN(auto c, ChildProcess::Start(s));
  EXPECT_EQ(ReadAll(c->out_fd()),
            std::to_string(nobody.uid) + "\n" + std::to_string(nobody.gid) + "\n" + nobody.home + " nobody\n");
  ASSERT_OK(c->Wait().status());
}

}  // namespace
}  // namespace bv::io
