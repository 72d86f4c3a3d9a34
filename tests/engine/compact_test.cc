// Compaction on a volume: the space of what no kept snapshot needs comes back, every kept snapshot
// restores byte-exact, an index rebuilt from the segments afterwards gives the same answer
// [CMP-4], and puts and restores that run meanwhile complete [CMP-2][CMP-5].
#include "engine/compact.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <map>
#include <thread>

#include "engine/check.h"
#include "engine/delete.h"
#include "engine/put_session.h"
#include "engine/restore.h"
#include "io/fault_injection_env.h"
#include "tests/test_util.h"

namespace bv::engine {
namespace {

using test::GetString;
using test::PutString;
using test::RandomBytes;
using test::TestVolume;

constexpr int64_t kDay = 86'400'000'000;
constexpr int64_t kDec1 = 1764547200000000;  // 2025-12-01T00:00:00Z

// Night n of a dump: most of it as the night before, a fifth rewritten, a little appended.
std::string Night(int n) {
  std::string d = RandomBytes(2 << 20, 7);
  for (int i = 1; i <= n; i++) {
    const std::string fresh = RandomBytes(d.size() / 5, 100 + static_cast<uint64_t>(i));
    d.replace((static_cast<size_t>(i) * 397 << 10) % (d.size() - fresh.size()), fresh.size(), fresh);
    d += RandomBytes(64 << 10, 200 + static_cast<uint64_t>(i));
  }
  return d;
}

class CompactTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitOptions o;
    o.segment_size = 1 << 20;
    o.env = env;
    ASSERT_OK(tv.Init(o));
    ASSERT_OK_AND_ASSIGN(v, Open());
  }
  Result<std::unique_ptr<Volume>> Open(OpenOptions o = {}) {
    if (!o.env) o.env = env;
    return tv.Open(o);
  }
  // Six nights, of which the last two are kept.
  void SixNightsKeepTwo() {
    for (int n = 0; n < 6; n++) {
      nights[n] = Night(n);
      ASSERT_OK_AND_ASSIGN(auto r, PutString(v.get(), "db/a", nights[n], kDec1 + n * kDay));
      ids[n] = r.id;
    }
    for (int n = 0; n < 4; n++) ASSERT_OK(DeleteSnapshot(v.get(), Record(ids[n]), "expired"));
  }
  format::SnapshotRecord Record(uint64_t id) {
    auto e = v->index()->GetSnapshot(id);
    EXPECT_TRUE(e.ok() && e->has_value());
    return (*e)->record;
  }
  std::map<uint64_t, std::string> Listed() {
    std::map<uint64_t, std::string> out;
    EXPECT_TRUE(v->index()->ForEachSnapshot("", [&](const SnapshotEntry& e) {
      out[e.record.id] = e.record.source;
      return true;
    }).ok());
    return out;
  }
  // Every kept night restores byte-exact, and nothing else is listed.
  void ExpectKept(const std::vector<int>& kept) {
    std::map<uint64_t, std::string> listed = Listed();
    EXPECT_EQ(listed.size(), kept.size());
    for (int n : kept) {
      EXPECT_TRUE(listed.count(ids[n])) << "night " << n << " is not listed";
      auto back = GetString(v.get(), ids[n]);
      ASSERT_TRUE(back.ok()) << "night " << n << ": " << back.status().ToString();
      EXPECT_TRUE(*back == nights[n]) << "night " << n << " restores different bytes";
    }
  }
  void ExpectClean() {
    CheckOptions co;
    co.decode_data = true;
    co.stream_hashes = true;
    CheckReport report;
    ASSERT_OK(CheckVolume(v.get(), co, &report));
    EXPECT_TRUE(report.damage.empty() && report.problems.empty())
        << (report.problems.empty() ? report.damage.front().what : report.problems.front());
  }
  // Seals the segment being written, as a rotation does.
  void SealCurrent() {
    ASSERT_OK_AND_ASSIGN(auto files, v->segment_files()->List());
    ASSERT_FALSE(files.empty());
    ASSERT_OK_AND_ASSIGN(AppendLane::Guard lane, v->lane()->Lock());
    ASSERT_OK_AND_ASSIGN(bool sealed, lane.Seal(files.back()));
    ASSERT_TRUE(sealed);
  }
  // Compacts until a run chooses nothing; the bytes stored then.
  Result<uint64_t> Converge() {
    for (int run = 0; run < 4; run++) {
      BV_ASSIGN_OR_RETURN(CompactReport r, Compact(v.get(), {}));
      if (r.chosen.empty()) return v->StoredBytes();
    }
    return Status::Corruption("four compactions in a row still found segments to rewrite");
  }
  void RebuildIndex() {
    ASSERT_OK(v->Close());
    v.reset();
    std::filesystem::remove_all(tv.dir() + "/index");
    OpenOptions o;
    o.rebuild_index = true;
    ASSERT_OK_AND_ASSIGN(v, Open(o));
  }

  std::shared_ptr<io::FaultInjectionEnv> env =
      std::make_shared<io::FaultInjectionEnv>(io::Env::Create(test::TestBackend()));
  TestVolume tv;
  std::unique_ptr<Volume> v;
  std::string nights[6];
  uint64_t ids[6] = {};
};

TEST_F(CompactTest, GivesBackWhatNoKeptSnapshotNeedsAndKeepsTheRest) {  // [CMP-3]
  SixNightsKeepTwo();
  ASSERT_OK_AND_ASSIGN(uint64_t before, v->StoredBytes());
  CompactOptions dry;
  dry.dry_run = true;
  ASSERT_OK_AND_ASSIGN(CompactReport plan, Compact(v.get(), dry));
  EXPECT_FALSE(plan.chosen.empty());
  EXPECT_EQ(plan.segments_removed, 0u);
  ASSERT_OK_AND_ASSIGN(uint64_t after_dry, v->StoredBytes());
  EXPECT_EQ(after_dry, before) << "a dry run changed the volume";

  ASSERT_OK_AND_ASSIGN(CompactReport r, Compact(v.get(), {}));
  EXPECT_EQ(r.segments_removed, plan.chosen.size());
  EXPECT_GT(r.bytes_copied, 0u) << "the kept nights share chunks with the removed ones: some must move";
  ASSERT_OK_AND_ASSIGN(uint64_t after, v->StoredBytes());
  EXPECT_LT(after, before - plan.reclaimable_bytes / 2);
  EXPECT_GE(after + r.bytes_freed, before);
  ExpectKept({4, 5});
  ExpectClean();
  // Done in a run or two (the segment being written at the start is sealed by the copies).
  ASSERT_OK(Converge().status());
  // The segments alone give the same answer.
  RebuildIndex();
  ExpectKept({4, 5});
  ExpectClean();
}

TEST_F(CompactTest, ADeletionRecordIsCarriedWhileTheCommitItDeletesIsKept) {  // [CMP-4]
  // Segments sealed by hand, so the layout does not hang on where chunks are cut: segment 1
  // holds A's commit and K's live data (it stays), segment 2 the junk's data and the deletion
  // records of A and the junk (compaction removes it), segment 3 the last push. Dropped, A's
  // record would let a rebuilt index bring A back; the junk's record goes with its commit.
  ASSERT_OK_AND_ASSIGN(auto a, PutString(v.get(), "db/a", "tiny", kDec1));
  const std::string k = RandomBytes(600 << 10, 1);
  ASSERT_OK_AND_ASSIGN(auto kept, PutString(v.get(), "db/k", k, kDec1 + kDay));
  SealCurrent();
  ASSERT_OK_AND_ASSIGN(auto junk, PutString(v.get(), "db/j", RandomBytes(600 << 10, 2), kDec1 + 2 * kDay));
  ASSERT_OK(DeleteSnapshot(v.get(), a, "expired"));
  ASSERT_OK(DeleteSnapshot(v.get(), junk, "expired"));
  SealCurrent();
  ASSERT_OK_AND_ASSIGN(auto last, PutString(v.get(), "db/k", RandomBytes(20 << 10, 3), kDec1 + 3 * kDay));
  ASSERT_OK_AND_ASSIGN(auto tomb, v->index()->GetTombstone(a.id));
  ASSERT_TRUE(tomb.has_value());
  ASSERT_EQ(tomb->commit.segment, 1u);
  ASSERT_EQ(tomb->deletion.segment, 2u);
  ASSERT_OK_AND_ASSIGN(CompactReport r, Compact(v.get(), {}));
  ASSERT_EQ(r.chosen.size(), 1u);
  EXPECT_EQ(r.chosen[0].segment, 2u);
  EXPECT_EQ(r.segments_removed, 1u);
  EXPECT_EQ(r.deletions_carried, 1u) << "A's deletion is needed while A's commit block stays";
  ASSERT_OK_AND_ASSIGN(auto tomb_after, v->index()->GetTombstone(a.id));
  ASSERT_TRUE(tomb_after.has_value());
  EXPECT_EQ(tomb_after->commit.segment, 1u);
  EXPECT_GT(tomb_after->deletion.segment, 2u) << "the tombstone follows the carried record";
  ASSERT_OK_AND_ASSIGN(auto junk_tomb, v->index()->GetTombstone(junk.id));
  EXPECT_FALSE(junk_tomb.has_value()) << "the junk's commit went with its segment";
  RebuildIndex();
  std::map<uint64_t, std::string> listed = Listed();
  EXPECT_EQ(listed.size(), 2u);
  EXPECT_FALSE(listed.count(a.id)) << "a rebuilt index brought a deleted snapshot back";
  EXPECT_TRUE(listed.count(kept.id) && listed.count(last.id));
  ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), kept.id));
  EXPECT_TRUE(back == k);
}

// [CMP-4] Segments 1 and 2 are swept as one group, and damage in 1 leaves it. A's deletion
// record in 2 is carried all the same, since A's commit is in another segment: 2 goes, with the
// commit of K2 (kept, copied forward), and a rebuilt index neither brings A back nor loses K2.
TEST_F(CompactTest, ADeletionIsCarriedWhenItsCommitsSegmentInTheGroupIsLeft) {
  ASSERT_OK_AND_ASSIGN(auto a, PutString(v.get(), "db/a", "tiny", kDec1));
  ASSERT_OK_AND_ASSIGN(auto kept, PutString(v.get(), "db/k", RandomBytes(3000, 1), kDec1 + kDay));
  ASSERT_OK_AND_ASSIGN(auto junk1, PutString(v.get(), "db/j", RandomBytes(600 << 10, 2), kDec1 + 2 * kDay));
  SealCurrent();
  ASSERT_OK_AND_ASSIGN(auto junk2, PutString(v.get(), "db/j", RandomBytes(600 << 10, 3), kDec1 + 3 * kDay));
  const std::string k2 = RandomBytes(2000, 5);
  ASSERT_OK_AND_ASSIGN(auto kept2, PutString(v.get(), "db/k2", k2, kDec1 + 3 * kDay));
  for (const auto& gone : {a, junk1, junk2}) ASSERT_OK(DeleteSnapshot(v.get(), gone, "expired"));
  SealCurrent();
  ASSERT_OK_AND_ASSIGN(auto last, PutString(v.get(), "db/k", RandomBytes(20 << 10, 4), kDec1 + 4 * kDay));
  ASSERT_OK_AND_ASSIGN(auto tomb, v->index()->GetTombstone(a.id));
  ASSERT_TRUE(tomb.has_value());
  ASSERT_EQ(tomb->commit.segment, 1u);
  ASSERT_EQ(tomb->deletion.segment, 2u);
  ASSERT_OK_AND_ASSIGN(auto k2_entry, v->index()->GetSnapshot(kept2.id));
  ASSERT_TRUE(k2_entry.has_value());
  ASSERT_EQ(k2_entry->commit.segment, 2u);
  // K's one data block, the second of segment 1 (after A's), gets a flipped payload byte.
  std::vector<uint64_t> offsets;
  ASSERT_OK(v->index()->ForEachChunkAt(1, 0, UINT64_MAX, [&](uint64_t offset, const format::Id&) {
    offsets.push_back(offset);
    return Status::Ok();
  }));
  ASSERT_GE(offsets.size(), 3u);
  test::FlipByte(tv.dir() + "/segments/" + format::SegmentFileName(1), offsets[1] + format::kBlockHeaderSize + 100);

  ASSERT_OK_AND_ASSIGN(CompactReport r, Compact(v.get(), {}));
  ASSERT_EQ(r.chosen.size(), 2u);
  EXPECT_EQ(r.segments_removed, 1u);
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find(format::SegmentFileName(1) + " left as it is"), std::string::npos) << r.notes[0];
  EXPECT_EQ(r.deletions_carried, 2u) << "A's and the first junk's: their commits are in segment 1";
  ASSERT_OK_AND_ASSIGN(auto files, v->segment_files()->List());
  EXPECT_EQ(std::count(files.begin(), files.end(), 2u), 0) << "segment 2 stayed";
  EXPECT_EQ(std::count(files.begin(), files.end(), 1u), 1) << "segment 1 went, damage and all";
  RebuildIndex();
  std::map<uint64_t, std::string> listed = Listed();
  EXPECT_FALSE(listed.count(a.id)) << "a rebuilt index brought a deleted snapshot back";
  EXPECT_FALSE(listed.count(junk1.id)) << "a rebuilt index brought a deleted snapshot back";
  EXPECT_TRUE(listed.count(kept.id) && listed.count(kept2.id) && listed.count(last.id));
  ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), kept2.id));
  EXPECT_TRUE(back == k2);
}

TEST_F(CompactTest, APutBegunBeforeTheFenceIsWaitedForAndItsSnapshotRestores) {  // [CMP-2]
  SixNightsKeepTwo();
  // A put that began before the compaction deduplicates against night 0, whose blocks are in
  // segments the compaction removes; it commits only after the compaction has started.
  PutOptions po;
  po.source = "db/late";
  ASSERT_OK_AND_ASSIGN(auto session, PutSession::Begin(v.get(), po));
  ASSERT_OK(session->StartStream(""));
  ASSERT_OK(session->Write(nights[0]));
  ASSERT_OK(session->EndStream());
  std::atomic<int> removed{0};
  CompactOptions co;
  co.on_segment = [&](const SegmentUsage&, bool r) { removed += r; };
  auto compaction = std::async(std::launch::async, [&] { return Compact(v.get(), co); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(removed.load(), 0) << "a segment went while a put that may reference it was open";
  ASSERT_OK_AND_ASSIGN(auto late, session->Commit());
  session.reset();
  ASSERT_OK_AND_ASSIGN(CompactReport r, compaction.get());
  EXPECT_GT(r.segments_removed, 0u);
  ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), late.id));
  EXPECT_TRUE(back == nights[0]);
  for (int n : {4, 5}) {
    ASSERT_OK_AND_ASSIGN(std::string kept, GetString(v.get(), ids[n]));
    EXPECT_TRUE(kept == nights[n]);
  }
  ExpectClean();
}

// Holds the first write of a restore until told to go on.
class GatedSink : public OutputSink {
 public:
  Status Write(std::string_view b) override {
    if (out.empty()) {
      started.set_value();
      go.get_future().wait();
    }
    out.append(b);
    return Status::Ok();
  }
  std::promise<void> started, go;
  std::string out;
};

TEST_F(CompactTest, ARestoreReadingARetiredSegmentCompletes) {  // [CMP-5]
  SixNightsKeepTwo();
  ASSERT_OK_AND_ASSIGN(auto e, v->index()->GetSnapshot(ids[4]));
  GatedSink sink;
  RestoreOptions ro;
  ro.batch_output = 64 << 10;  // many batches: most are read after the compaction has moved the blocks
  ro.batches_in_flight = 1;
  auto restore = std::async(std::launch::async, [&] { return Restore(v.get(), *e, ro, &sink); });
  sink.started.get_future().wait();
  std::atomic<int> removed{0};
  CompactOptions co;
  co.on_segment = [&](const SegmentUsage&, bool r) { removed += r; };
  auto compaction = std::async(std::launch::async, [&] { return Compact(v.get(), co); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(removed.load(), 0) << "a segment file went while a restore begun before could still read it";
  sink.go.set_value();
  ASSERT_OK(restore.get());
  EXPECT_TRUE(sink.out == nights[4]);
  ASSERT_OK_AND_ASSIGN(CompactReport r, compaction.get());
  EXPECT_GT(r.segments_removed, 0u);
  ExpectKept({4, 5});
}

TEST_F(CompactTest, PutsAndRestoresRunThroughACompaction) {  // [CMP-2][CMP-3]
  SixNightsKeepTwo();
  CompactOptions co;
  co.max_rate = 4 << 20;  // slow enough that the puts and restores below overlap it
  auto compaction = std::async(std::launch::async, [&] { return Compact(v.get(), co); });
  std::map<uint64_t, std::string> put;
  for (int i = 0; i < 6; i++) {
    // Old nights again: their chunks are in the segments being compacted (fenced, so stored anew).
    const std::string d = nights[i % 4] + std::to_string(i);
    ASSERT_OK_AND_ASSIGN(auto r, PutString(v.get(), "db/b", d, kDec1 + (10 + i) * kDay));
    put[r.id] = d;
    ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), ids[4 + i % 2]));
    EXPECT_TRUE(back == nights[4 + i % 2]);
  }
  ASSERT_OK_AND_ASSIGN(CompactReport r, compaction.get());
  EXPECT_GT(r.segments_removed, 0u);
  for (const auto& [id, d] : put) {
    ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), id));
    EXPECT_TRUE(back == d);
  }
  ExpectClean();
  RebuildIndex();
  EXPECT_EQ(Listed().size(), 2u + put.size());
  for (const auto& [id, d] : put) {
    ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), id));
    EXPECT_TRUE(back == d);
  }
}

// [CMP-1..CMP-5] The process dies at each of the compaction's syncs in turn; after a power cut
// that loses or tears what was not synced, the volume opens, every kept snapshot restores, fsck
// is clean, a rebuilt index agrees, and the next compaction finishes the job.
TEST_F(CompactTest, ACrashAtAnySyncLeavesAVolumeTheNextCompactionFinishes) {
  v.reset();
  const std::string base = tv.dir() + ".base";
  {
    ASSERT_OK_AND_ASSIGN(v, Open());
    SixNightsKeepTwo();
    ASSERT_OK(v->Close());
    v.reset();
    std::filesystem::copy(tv.dir(), base, std::filesystem::copy_options::recursive);
  }
  // What compaction leaves when nothing interrupts it (run till it chooses nothing: the segment
  // being written when it starts, once its copies fill and seal it, is for the next run).
  uint64_t reference = 0;
  {
    ASSERT_OK_AND_ASSIGN(v, Open());
    ASSERT_OK_AND_ASSIGN(reference, Converge());
    ASSERT_OK(v->Close());
    v.reset();
  }
  bool finished = false;
  uint64_t crashes = 0;
  for (uint64_t crash_at = 1; !finished && crash_at < 200; crash_at++) {
    SCOPED_TRACE("crash at sync " + std::to_string(crash_at));
    std::filesystem::remove_all(tv.dir());
    std::filesystem::copy(base, tv.dir(), std::filesystem::copy_options::recursive);
    {
      ASSERT_OK_AND_ASSIGN(v, Open());
      env->CrashAtSync(crash_at);
      auto r = Compact(v.get(), {});
      finished = !env->crashed();
      crashes += !finished;
      if (finished) ASSERT_OK(r.status());
      v.reset();  // no Close: the process is dead
    }
    ASSERT_OK((crash_at % 2 == 0 ? env->DropUnsynced() : env->SimulatePowerLoss(crash_at)).status());
    ASSERT_OK_AND_ASSIGN(v, Open());
    ExpectKept({4, 5});
    ExpectClean();
    ASSERT_OK_AND_ASSIGN(uint64_t stored, Converge());
    EXPECT_LE(stored, reference + (1 << 20)) << "the compaction after the crash left more than one without";
    RebuildIndex();
    ExpectKept({4, 5});
    v.reset();
  }
  EXPECT_TRUE(finished) << "the compaction never ran to its end";
  std::printf("compaction crashed at each of its %d syncs in turn\n", static_cast<int>(crashes));
  std::filesystem::remove_all(base);
}

// A removal that fails (the file stays) leaves the segment retired: the next open removes it.
TEST_F(CompactTest, ASegmentRetiredButNotRemovedGoesAtTheNextOpen) {  // [CMP-5]
  SixNightsKeepTwo();
  env->FailOn(io::FaultInjectionEnv::Op::kRemove, "segments/seg-");
  EXPECT_FALSE(Compact(v.get(), {}).ok());
  env->ClearFaults();
  ASSERT_OK_AND_ASSIGN(auto left, v->segment_files()->List());
  v.reset();
  ASSERT_OK_AND_ASSIGN(v, Open());
  ASSERT_OK_AND_ASSIGN(auto after, v->segment_files()->List());
  EXPECT_LT(after.size(), left.size()) << "the open removed no retired segment";
  for (uint64_t n : left) {
    ASSERT_OK_AND_ASSIGN(auto state, v->index()->GetSegment(n));
    EXPECT_EQ(state && state->retired, std::find(after.begin(), after.end(), n) == after.end()) << n;
  }
  ExpectKept({4, 5});
  ExpectClean();
  ASSERT_OK(Compact(v.get(), {}).status());
  ASSERT_OK(Converge().status());
}

// [CMP-5] The numbers compaction removed are in DIR/RETIRED, which survives an index rebuild;
// a segment lost any other way is still damage, rebuilt index or not.
TEST_F(CompactTest, ALostSegmentIsDamageWhereARemovedOneIsNot) {
  SixNightsKeepTwo();
  ASSERT_OK(Converge().status());
  RebuildIndex();
  ExpectClean();  // the gaps compaction left are accounted for
  ASSERT_OK_AND_ASSIGN(auto files, v->segment_files()->List());
  ASSERT_GE(files.size(), 3u);
  ASSERT_OK(v->Close());
  v.reset();
  std::filesystem::remove(tv.dir() + "/segments/" + format::SegmentFileName(files[files.size() - 2]));
  std::filesystem::remove_all(tv.dir() + "/index");
  OpenOptions o;
  o.rebuild_index = true;
  ASSERT_OK_AND_ASSIGN(v, Open(o));
  CheckReport report;
  ASSERT_OK(CheckVolume(v.get(), {}, &report));
  bool named = false;
  for (const Damage& d : report.damage) named |= d.segment == files[files.size() - 2];
  EXPECT_TRUE(named) << "a lost segment went unreported";
}

TEST_F(CompactTest, OneCompactionAtATime) {  // [CMP-1]
  SixNightsKeepTwo();
  std::promise<void> in, go;
  std::shared_future<void> go_f = go.get_future().share();
  CompactOptions slow;
  bool first = true;
  slow.on_segment = [&](const SegmentUsage&, bool) {
    if (!first) return;
    first = false;
    in.set_value();
    go_f.wait();
  };
  auto running = std::async(std::launch::async, [&] { return Compact(v.get(), slow); });
  in.get_future().wait();
  auto second = Compact(v.get(), {});
  EXPECT_EQ(second.status().code(), Status::Code::kBusy);
  go.set_value();
  ASSERT_OK(running.get().status());
}

TEST_F(CompactTest, StoppedItResumesWhereItStopped) {
  SixNightsKeepTwo();
  CompactOptions co;
  int calls = 0;
  co.should_stop = [&] { return ++calls > 3; };
  ASSERT_OK_AND_ASSIGN(CompactReport first, Compact(v.get(), co));
  EXPECT_TRUE(first.stopped);
  ASSERT_OK_AND_ASSIGN(CompactReport rest, Compact(v.get(), {}));
  EXPECT_FALSE(rest.stopped);
  ASSERT_OK(Converge().status());
  ExpectKept({4, 5});
}

TEST_F(CompactTest, BadOptionsAndAVolumeOpenedToReadAreRefused) {
  CompactOptions bad;
  bad.threshold = 0;
  EXPECT_EQ(Compact(v.get(), bad).status().code(), Status::Code::kInvalidArgument);
  bad.threshold = 1.5;
  EXPECT_EQ(Compact(v.get(), bad).status().code(), Status::Code::kInvalidArgument);
  SixNightsKeepTwo();
  ASSERT_OK(v->Close());
  OpenOptions ro;
  ro.read_only = true;
  ASSERT_OK_AND_ASSIGN(v, Open(ro));
  EXPECT_FALSE(Compact(v.get(), {}).ok());
  CompactOptions dry;
  dry.dry_run = true;
  ASSERT_OK_AND_ASSIGN(CompactReport plan, Compact(v.get(), dry));
  EXPECT_FALSE(plan.chosen.empty());
}

}  // namespace
}  // namespace bv::engine
