// A verify job's share (engine/verify_share.h): runs that each read their share cover every
// segment once per pass, resume where the last stopped and wrap; damage in a share is named with
// its snapshot and quarantined; a cursor past the newest segment starts a new pass; pushes beside
// the check are never damage; a lost segment file is found by any run.
#include "engine/verify_share.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include "tests/test_util.h"

namespace bv::engine {
namespace {

using test::PutString;
using test::RandomBytes;
using test::TestVolume;

class VerifyShareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine::InitOptions io;
    io.segment_size = 2 << 20;
    ASSERT_OK(tv.Init(io));
    ASSERT_OK_AND_ASSIGN(v, tv.Open());
    for (int i = 0; i < 6; i++) {
      ASSERT_OK_AND_ASSIGN(auto rec, PutString(v.get(), "share/" + std::to_string(i), RandomBytes(1536 << 10, 90 + i)));
      ids.push_back(rec.id);
    }
    ASSERT_OK_AND_ASSIGN(segments, v->segment_files()->List());
    ASSERT_GE(segments.size(), 4u);
  }

  ShareOptions Share(uint64_t num, uint64_t den) {
    ShareOptions o;
    o.share_num = num;
    o.share_den = den;
    o.now_us = ++now;
    return o;
  }

  TestVolume tv;
  std::unique_ptr<Volume> v;
  std::vector<uint64_t> ids;
  std::vector<uint64_t> segments;
  int64_t now = 1000;
};

TEST_F(VerifyShareTest, SharesCoverEverySegmentOncePerPassAndWrap) {
  format::VerifyCursor cursor;
  std::set<uint64_t> seen;
  int runs = 0;
  for (;;) {
    ASSERT_OK_AND_ASSIGN(ShareReport r, VerifyShare(v.get(), Share(1, 3), &cursor));
    runs++;
    ASSERT_TRUE(r.check.clean());
    ASSERT_GT(r.segments, 0u);
    for (uint64_t n = r.first_segment; n <= r.last_segment; n++) EXPECT_TRUE(seen.insert(n).second) << n;
    // A run reads at least its share, unless the pass ended first.
    if (!r.pass_done) {
      EXPECT_GE(r.bytes * 3, r.volume_bytes);
    }
    if (r.pass_done) break;
    ASSERT_LT(runs, 10);
  }
  EXPECT_EQ(runs, 3);  // a third at a time, in whole segments
  EXPECT_EQ(seen, std::set<uint64_t>(segments.begin(), segments.end()));
  EXPECT_EQ(cursor.passes, 1u);
  EXPECT_EQ(cursor.next_segment, 0u);
  EXPECT_EQ(cursor.last_pass_end_us, now);
  // The next run starts the second pass at the first segment.
  ASSERT_OK_AND_ASSIGN(ShareReport again, VerifyShare(v.get(), Share(1, 3), &cursor));
  EXPECT_EQ(again.first_segment, segments.front());
  EXPECT_EQ(cursor.pass_start_us, now);
  EXPECT_EQ(cursor.pass_bytes, again.bytes);
}

TEST_F(VerifyShareTest, DamageInTheShareIsNamedAndQuarantined) {
  uint64_t victim = 0;
  format::Id victim_id{};
  ASSERT_OK(v->index()->ForEachChunkAt(segments[0], 0, UINT64_MAX, [&](uint64_t off, const format::Id& id) {
    if (victim == 0 && off > 100000) {
      victim = off;
      victim_id = id;
    }
    return Status::Ok();
  }));
  ASSERT_GT(victim, 0u);
  {
    std::fstream f(tv.dir() + "/segments/" + format::SegmentFileName(segments[0]),
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(victim + 200));
    f.put('\x5a');
    ASSERT_TRUE(f.good());
  }
  // A share that does not reach segment 1 sees nothing wrong.
  format::VerifyCursor later;
  later.next_segment = segments[1];
  ASSERT_OK_AND_ASSIGN(ShareReport clean, VerifyShare(v.get(), Share(1, 6), &later));
  EXPECT_TRUE(clean.check.clean());
  EXPECT_EQ(clean.first_segment, segments[1]);
  // The share that does names the place and the snapshot, and quarantines the chunk.
  format::VerifyCursor cursor;
  ASSERT_OK_AND_ASSIGN(ShareReport r, VerifyShare(v.get(), Share(1, 6), &cursor));
  EXPECT_EQ(r.first_segment, segments[0]);
  ASSERT_EQ(r.check.damage.size(), 1u);
  EXPECT_EQ(r.check.damage[0].segment, segments[0]);
  EXPECT_EQ(r.check.damage[0].offset, victim);
  ASSERT_EQ(r.check.damage[0].snapshots.size(), 1u);
  EXPECT_EQ(r.check.damage[0].snapshots[0], ids[0]);
  EXPECT_EQ(r.quarantined, 1u);
  ASSERT_OK_AND_ASSIGN(auto q, v->index()->GetQuarantined(victim_id));
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->offset, victim);
  EXPECT_EQ(cursor.next_segment, r.last_segment + 1);  // the cursor moves on past damage
}

TEST_F(VerifyShareTest, ACursorPastTheNewestSegmentEndsThePassAndStartsAgain) {
  format::VerifyCursor cursor;
  cursor.next_segment = segments.back() + 100;  // compaction took what the pass had left
  cursor.pass_start_us = 5;
  ASSERT_OK_AND_ASSIGN(ShareReport r, VerifyShare(v.get(), Share(1, 1), &cursor));
  EXPECT_EQ(r.first_segment, segments.front());
  EXPECT_EQ(r.last_segment, segments.back());
  EXPECT_TRUE(r.pass_done);
  EXPECT_EQ(cursor.passes, 2u);  // the one cut short, and this whole one
}

TEST_F(VerifyShareTest, AStopAfterTheFirstSegmentKeepsTheRestForLater) {
  format::VerifyCursor cursor;
  ShareOptions o = Share(1, 1);
  o.should_stop = [] { return true; };
  ASSERT_OK_AND_ASSIGN(ShareReport r, VerifyShare(v.get(), o, &cursor));
  EXPECT_EQ(r.segments, 1u);
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(cursor.next_segment, segments.front() + 1);
  EXPECT_EQ(cursor.passes, 0u);
}

// Pushes go on while shares are checked, writing into the newest segment and rotating: what the
// writer has not synced yet, or a segment it has not synced once, is never damage.
TEST_F(VerifyShareTest, PushesBesideTheCheckAreNeverDamage) {
  std::atomic<bool> done{false};
  Status pushed;
  std::thread pusher([&] {
    for (int i = 0; i < 40 && pushed.ok(); i++) {
      pushed = PutString(v.get(), "beside/" + std::to_string(i % 3), RandomBytes(700 << 10, 500 + i)).status();
    }
    done = true;
  });
  format::VerifyCursor cursor;
  int runs = 0;
  while (!done || runs < 3) {
    ASSERT_OK_AND_ASSIGN(ShareReport r, VerifyShare(v.get(), Share(1, 1), &cursor));
    runs++;
    EXPECT_TRUE(r.check.clean()) << (r.check.damage.empty() ? r.check.problems[0] : r.check.damage[0].what);
    EXPECT_EQ(r.quarantined, 0u);
    if (!r.check.clean()) break;
  }
  pusher.join();
  ASSERT_OK(pushed);
}

TEST_F(VerifyShareTest, ASegmentFileThatIsGoneIsDamageOnEveryRun) {
  ASSERT_OK(v->Close());
  ASSERT_EQ(::unlink((tv.dir() + "/segments/" + format::SegmentFileName(segments[1])).c_str()), 0);
  engine::OpenOptions o;
  o.recover = RecoverMode{false, false};
  ASSERT_OK_AND_ASSIGN(v, tv.Open(o));
  format::VerifyCursor cursor;
  cursor.next_segment = segments.back();  // a share far from the lost file
  ASSERT_OK_AND_ASSIGN(ShareReport r, VerifyShare(v.get(), Share(1, 6), &cursor));
  ASSERT_EQ(r.check.damage.size(), 1u);
  EXPECT_EQ(r.check.damage[0].segment, segments[1]);
  EXPECT_NE(r.check.damage[0].what.find("in the index but the file is missing"), std::string::npos)
      << r.check.damage[0].what;
  EXPECT_FALSE(r.check.damage[0].snapshots.empty());
}

}  // namespace
}  // namespace bv::engine
