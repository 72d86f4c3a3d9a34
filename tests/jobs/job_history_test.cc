// The job history (jobs/job_history.h): runs listed newest first per job, the last good one,
// expiry, a run left marked running by a crash found interrupted at the next open, and a job's
// state kept across opens, also in a history made before the state family existed.
#include "jobs/job_history.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "jobs/backup_run.h"
#include "tests/test_util.h"

namespace bv::jobs {
namespace {

format::RunRecord Record(const std::string& job, int64_t start, RunResult result) {
  format::RunRecord r;
  r.job = job;
  r.start_us = start;
  r.end_us = result == RunResult::kRunning ? 0 : start + 10;
  r.result = static_cast<uint8_t>(result);
  return r;
}

TEST(JobHistoryTest, RunsNewestFirstPerJobAndTheLastGoodOne) {
  test::TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto h, JobHistory::Open(dir.path(), 1000, nullptr));
  ASSERT_OK(h->Put(Record("a", 100, RunResult::kOk)));
  ASSERT_OK(h->Put(Record("a", 300, RunResult::kFailed)));
  ASSERT_OK(h->Put(Record("a", 200, RunResult::kOk)));
  ASSERT_OK(h->Put(Record("a.b", 400, RunResult::kOk)));
  ASSERT_OK(h->Put(Record("b", 50, RunResult::kFailed)));
  ASSERT_OK_AND_ASSIGN(auto recent, h->Recent("a", 10));
  ASSERT_EQ(recent.size(), 3u);
  EXPECT_EQ(recent[0].start_us, 300);
  EXPECT_EQ(recent[2].start_us, 100);
  ASSERT_OK_AND_ASSIGN(recent, h->Recent("a", 1));
  EXPECT_EQ(recent.size(), 1u);
  ASSERT_OK_AND_ASSIGN(auto good, h->LastGood("a"));
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(good->start_us, 200);
  ASSERT_OK_AND_ASSIGN(good, h->LastGood("b"));
  EXPECT_FALSE(good.has_value());
  ASSERT_OK_AND_ASSIGN(size_t gone, h->Expire(250));
  EXPECT_EQ(gone, 3u);  // a@100, a@200, b@50
  ASSERT_OK_AND_ASSIGN(recent, h->Recent("a", 10));
  EXPECT_EQ(recent.size(), 1u);
}

TEST(JobHistoryTest, ARunLeftRunningIsFoundInterrupted) {
  test::TempDir dir;
  {
    ASSERT_OK_AND_ASSIGN(auto h, JobHistory::Open(dir.path(), 1000, nullptr));
    ASSERT_OK(h->Put(Record("a", 100, RunResult::kRunning)));
  }  // as if bvd died
  std::vector<format::RunRecord> cut;
  ASSERT_OK_AND_ASSIGN(auto h, JobHistory::Open(dir.path(), 5000, &cut));
  ASSERT_EQ(cut.size(), 1u);
  ASSERT_OK_AND_ASSIGN(auto recent, h->Recent("a", 10));
  ASSERT_EQ(recent.size(), 1u);
  EXPECT_EQ(recent[0].result, static_cast<uint8_t>(RunResult::kInterrupted));
  EXPECT_EQ(recent[0].end_us, 5000);
  EXPECT_NE(recent[0].error.find("bvd stopped"), std::string::npos);
}

TEST(JobHistoryTest, StateIsKeptAcrossOpensAndExpiryInAHistoryFromBeforeIt) {
  test::TempDir dir;
  {  // a history as the first version wrote it: run records in the default family only
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir.path(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    const format::RunRecord r = Record("v", 100, RunResult::kOk);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), format::RunKey(r.job, r.start_us, r.attempt),
                        format::EncodeRunRecord(r)).ok());
    ASSERT_TRUE(db->Close().ok());
  }
  {
    ASSERT_OK_AND_ASSIGN(auto h, JobHistory::Open(dir.path(), 1000, nullptr));
    ASSERT_OK_AND_ASSIGN(auto none, h->GetState("v"));
    EXPECT_FALSE(none.has_value());
    ASSERT_OK(h->PutState("v", "cursor-1"));
    ASSERT_OK(h->PutState("w", std::string("\0\1", 2)));
    ASSERT_OK_AND_ASSIGN(auto recent, h->Recent("v", 10));
    EXPECT_EQ(recent.size(), 1u);
  }
  ASSERT_OK_AND_ASSIGN(auto h, JobHistory::Open(dir.path(), 2000, nullptr));
  ASSERT_OK_AND_ASSIGN(size_t expired, h->Expire(5000));
  EXPECT_EQ(expired, 1u);  // the run, not the state
  ASSERT_OK_AND_ASSIGN(auto v, h->GetState("v"));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, "cursor-1");
  ASSERT_OK_AND_ASSIGN(auto w, h->GetState("w"));
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(*w, std::string("\0\1", 2));
}

}  // namespace
}  // namespace bv::jobs
