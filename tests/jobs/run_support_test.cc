// What every job's commands share (jobs/run_support.h, jobs/pipe_watch.h, jobs/notify.h): a
// command run to its end with input on its standard input, one whose left-behind process holds
// that input without reading it (the run ends after the grace, not never), and the JSON record a
// notify command reads, valid UTF-8 whatever bytes a command wrote.
#include "jobs/run_support.h"

#include <gtest/gtest.h>

#include <csignal>
#include <chrono>
#include <nlohmann/json.hpp>

#include "jobs/notify.h"
#include "tests/test_util.h"

namespace bv::jobs {
namespace {

io::ChildSpec Shell(const std::string& script) {
  JobSpec job;
  io::ChildSpec spec = CommandOf(job, {"sh", "-c", script}, std::nullopt);
  spec.in = io::ChildSpec::In::kPipe;
  return spec;
}

// As in bvd: a write to a pipe whose reader is gone fails with EPIPE instead of killing us.
const bool kSigpipeIgnored = [] { return ::signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();

TEST(RunSupportTest, InputReachesTheCommandWhole) {
  ASSERT_TRUE(kSigpipeIgnored);
  RunControl control;
  StderrTail tail(1 << 16);
  const std::string input(3 << 20, 'x');  // more than a pipe holds
  auto failed = RunToEnd(Shell("wc -c"), &control, &tail, input);
  EXPECT_FALSE(failed.has_value()) << failed->error;
  EXPECT_EQ(tail.Text(), std::to_string(input.size()) + "\n");
}

TEST(RunSupportTest, AProcessLeftHoldingTheInputUnreadDoesNotHangTheRun) {
  RunControl control;
  StderrTail tail(1 << 16);
  const std::string input(8 << 20, 'x');
  const auto t0 = std::chrono::steady_clock::now();
  // An asynchronous command's input is /dev/null before its own redirections: fd 3 keeps the pipe.
  auto failed = RunToEnd(Shell("exec 3<&0; setsid sleep 60 <&3 3<&- >/dev/null 2>&1 & exit 0"), &control, &tail, input);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(55)) << "waited for the process left behind";
  EXPECT_FALSE(failed.has_value()) << failed->error;  // the command itself exited 0
}

TEST(RunSupportTest, TheNotifyRecordIsValidJsonWhateverTheBytes) {
  JobSpec job;
  job.name = "orders";
  job.source = "pg/orders";
  job.attempts = 2;
  format::RunRecord r;
  r.job = "orders";
  r.attempt = 2;
  r.trigger = format::RunTrigger::kRetry;
  r.result = static_cast<uint8_t>(RunResult::kFailed);
  r.start_us = 1796000000000000;
  r.end_us = 1796000001000000;
  r.exit_status = 1;
  r.error = "stream \"bestellungen-über\": failed";
  r.stderr_tail = std::string("bad \xff\xfe bytes\n");
  const nlohmann::json j = nlohmann::json::parse(RunRecordJson("shop", job, r));
  EXPECT_EQ(j["tenant"], "shop");
  EXPECT_EQ(j["kind"], "backup");
  EXPECT_EQ(j["source"], "pg/orders");
  EXPECT_EQ(j["attempt"], 2);
  EXPECT_EQ(j["attempts"], 2);
  EXPECT_EQ(j["trigger"], "retry");
  EXPECT_EQ(j["result"], "failed");
  EXPECT_TRUE(j["scheduled"].is_null());
  EXPECT_EQ(j["start"], "2026-11-30T00:53:20Z");
  EXPECT_EQ(j["exit_status"], 1);
  EXPECT_TRUE(j["snapshot"].is_null());
  EXPECT_EQ(j["error"], "stream \"bestellungen-über\": failed");  // valid UTF-8 kept
  EXPECT_EQ(j["stderr_tail"], "bad \xef\xbf\xbd\xef\xbf\xbd bytes\n");  // invalid bytes replaced
}

}  // namespace
}  // namespace bv::jobs
