// One attempt of a backup job (jobs/backup_run.h): the commands' output is one snapshot, committed
// only when every command exits 0; a failing, killed, hanging or cancelled command commits nothing
// and says why; standard error is kept, bounded.
#include "jobs/backup_run.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "tests/test_util.h"

namespace bv::jobs {
namespace {

using test::TestVolume;

class BackupRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(tv.Init());
    ASSERT_OK_AND_ASSIGN(v, tv.Open());
  }
  JobSpec Job(std::vector<std::pair<std::string, std::string>> streams) {
    JobSpec j;
    j.name = "nightly";
    j.source = "db/orders";
    for (auto& [name, script] : streams) j.streams.push_back({name, {"sh", "-c", script}});
    return j;
  }
  RunOutcome Run(const JobSpec& j) {
    RunControl control;
    return RunBackup(v.get(), j, std::nullopt, engine::PutOptions{}, &control);
  }
  size_t Snapshots() {
    size_t n = 0;
    EXPECT_TRUE(v->index()->ForEachSnapshot("", [&](const engine::SnapshotEntry&) { return ++n > 0; }).ok());
    return n;
  }
  TestVolume tv;
  std::unique_ptr<engine::Volume> v;
};

TEST_F(BackupRunTest, TheCommandsOutputIsOneSnapshotOfTheirStreams) {
  JobSpec j = Job({{"dump.sql", "seq 1 100000; echo working >&2"}, {"files.tar", "printf 'second stream'"}});
  j.env = {"BV_JOB_TEST=x"};
  const RunOutcome o = Run(j);
  ASSERT_EQ(o.result, RunResult::kOk) << o.error;
  ASSERT_NE(o.snapshot, 0u);
  EXPECT_EQ(o.exit_status, 0);
  EXPECT_EQ(o.stderr_tail, "working\n");
  std::string seq;
  for (int i = 1; i <= 100000; i++) seq += std::to_string(i) + "\n";
  EXPECT_EQ(o.bytes_in, seq.size() + 13);
  EXPECT_GT(o.bytes_stored, 0u);
  ASSERT_OK_AND_ASSIGN(auto snap, v->index()->GetSnapshot(o.snapshot));
  ASSERT_TRUE(snap.has_value());
  EXPECT_EQ(snap->record.source, "db/orders");
  EXPECT_EQ(snap->record.label, "job nightly");
  ASSERT_EQ(snap->record.streams.size(), 2u);
  EXPECT_EQ(snap->record.streams[0].name, "dump.sql");
  EXPECT_EQ(snap->record.streams[0].length, seq.size());
  EXPECT_EQ(snap->record.streams[1].length, 13u);
}

TEST_F(BackupRunTest, AFailingCommandCommitsNothingAndSaysWhy) {
  const RunOutcome o = Run(Job({{"a", "echo fine"}, {"b", "echo 'pg_dump: connection refused' >&2; exit 3"}}));
  EXPECT_EQ(o.result, RunResult::kFailed);
  EXPECT_EQ(o.exit_status, 3);
  EXPECT_NE(o.error.find("stream \"b\": sh exited with status 3; nothing was committed"), std::string::npos) << o.error;
  EXPECT_EQ(o.stderr_tail, "pg_dump: connection refused\n");
  EXPECT_EQ(o.snapshot, 0u);
  EXPECT_EQ(Snapshots(), 0u);
}

TEST_F(BackupRunTest, ACommandKilledByASignalCommitsNothing) {
  const RunOutcome o = Run(Job({{"a", "seq 1 1000; kill -9 $$"}}));
  EXPECT_EQ(o.result, RunResult::kFailed);
  EXPECT_EQ(o.exit_status, 137);
  EXPECT_NE(o.error.find("killed by signal 9"), std::string::npos) << o.error;
  EXPECT_EQ(Snapshots(), 0u);
}

TEST_F(BackupRunTest, ACommandThatCannotRunCommitsNothing) {
  JobSpec j = Job({});
  j.streams.push_back({"a", {"bv-no-such-command"}});
  const RunOutcome o = Run(j);
  EXPECT_EQ(o.result, RunResult::kFailed);
  EXPECT_NE(o.error.find("cannot run bv-no-such-command"), std::string::npos) << o.error;
  EXPECT_EQ(Snapshots(), 0u);
}

TEST_F(BackupRunTest, AHangingCommandIsKilledAtTheTimeoutWithWhatItStarted) {
  JobSpec j = Job({{"a", "echo begun; sleep 300 & wait"}});
  j.timeout_s = 1;
  const auto t0 = std::chrono::steady_clock::now();
  const RunOutcome o = Run(j);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(60)) << "the background sleep held the pipe";
  EXPECT_EQ(o.result, RunResult::kTimedOut);
  EXPECT_NE(o.error.find("outlived its timeout of 1 s"), std::string::npos) << o.error;
  EXPECT_EQ(Snapshots(), 0u);
}

// A command that leaves a process in a session of its own holding its standard output (a daemon)
// and exits 0: its output never ends, and killing its group does not reach that process. The run
// fails kOrphanGraceS after the exit instead of waiting for it, well before its timeout.
TEST_F(BackupRunTest, AProcessLeftHoldingTheOutputFailsTheRunAfterTheGrace) {
  for (const char* fd : {"", " 2>&1"}) {
    JobSpec j = Job({{"a", std::string("printf partial; setsid sleep 60") + fd + " & exit 0"}});
    j.timeout_s = 600;
    const auto t0 = std::chrono::steady_clock::now();
    const RunOutcome o = Run(j);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(55)) << "waited for the orphan";
    EXPECT_EQ(o.result, RunResult::kFailed) << o.error;
    EXPECT_NE(o.error.find("sh exited, but a process it left behind still held its standard output open 5 s later"),
              std::string::npos)
        << o.error;
    EXPECT_NE(o.error.find("nothing was committed"), std::string::npos) << o.error;
    EXPECT_EQ(Snapshots(), 0u);
  }
  // Standard error alone held: the stream is whole, and the run commits once the grace ends.
  JobSpec j = Job({{"a", "printf whole; setsid sleep 60 >/dev/null & exit 0"}});
  const RunOutcome o = Run(j);
  EXPECT_EQ(o.result, RunResult::kOk) << o.error;
  EXPECT_EQ(Snapshots(), 1u);
}

TEST_F(BackupRunTest, ACancelledRunCommitsNothing) {
  RunControl control;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    control.Stop(RunResult::kCancelled);
  });
  const RunOutcome o = RunBackup(v.get(), Job({{"a", "seq 1 10; sleep 300"}}), std::nullopt, engine::PutOptions{}, &control);
  canceller.join();
  EXPECT_EQ(o.result, RunResult::kCancelled);
  EXPECT_NE(o.error.find("cancelled"), std::string::npos) << o.error;
  EXPECT_EQ(Snapshots(), 0u);
}

TEST_F(BackupRunTest, StandardErrorKeepsItsLastBytesOnly) {
  const RunOutcome o = Run(Job({{"a", "head -c 300000 /dev/zero | tr '\\0' x >&2; echo last-line >&2; echo out"}}));
  ASSERT_EQ(o.result, RunResult::kOk) << o.error;
  EXPECT_EQ(o.stderr_tail.size(), kStderrTailBytes);
  EXPECT_EQ(o.stderr_tail.substr(o.stderr_tail.size() - 10), "last-line\n");
}

}  // namespace
}  // namespace bv::jobs
