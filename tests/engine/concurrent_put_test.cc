// Several puts into one volume at once, as bvd runs them: appends interleave a batch at a time,
// a put whose source fails leaves the others alone, a quota stops a put with nothing committed,
// and a full disk fails the puts writing at that moment but not the volume.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <fstream>
#include <sstream>

#include "engine/check.h"
#include "engine/recovery.h"
#include "format/segment_scanner.h"
#include "io/fault_injection_env.h"
#include "tests/test_util.h"

namespace bv::engine {
namespace {

using test::FailingInput;
using test::GetString;
using test::PutString;
using test::RandomBytes;
using test::StringInput;
using test::TestVolume;

// Shares half its bytes with every other stream, so the puts dedup against each other too.
std::string StreamFor(int i) { return RandomBytes(3 << 20, 7) + RandomBytes((2 << 20) + 4099 * i, 100 + i); }

Status CheckClean(Volume* v) {
  CheckOptions co;
  co.decode_data = true;
  CheckReport report;
  BV_RETURN_IF_ERROR(CheckVolume(v, co, &report));
  if (!report.clean()) return Status::Corruption("check found damage or problems");
  return Status::Ok();
}

TEST(ConcurrentPut, PutsRunSideBySideAndRestoreExactly) {
  TestVolume tv;
  InitOptions io;
  io.segment_size = 4 << 20;  // rotations happen while puts interleave
  ASSERT_OK(tv.Init(io));
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  ThreadPool pool(2);
  BatchBudget budget(3);  // fewer batches than puts: they must take turns without deadlock
  constexpr int kPuts = 6;
  std::vector<std::string> data(kPuts);
  std::vector<uint64_t> ids(kPuts, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kPuts; i++) data[i] = StreamFor(i);
  for (int i = 0; i < kPuts; i++) {
    threads.emplace_back([&, i] {
      StringInput in(data[i], 64 << 10);
      PutOptions o;
      o.source = "side/" + std::to_string(i);
      o.pool = &pool;
      o.budget = &budget;
      o.batch_input = 1 << 20;
      auto rec = Put(v.get(), o, {{"", &in}});
      if (rec.ok()) ids[i] = rec->id;
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kPuts; i++) {
    ASSERT_NE(ids[i], 0u) << "put " << i << " failed";
    ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), ids[i]));
    EXPECT_TRUE(back == data[i]) << "put " << i;
  }
  ASSERT_OK(CheckClean(v.get()));
  // And after a crash-free reopen, and after a rebuild of the index from the segments alone.
  ASSERT_OK(v->Close());
  v.reset();
  OpenOptions rebuild;
  rebuild.rebuild_index = true;
  ASSERT_OK_AND_ASSIGN(v, tv.Open(rebuild));
  for (int i = 0; i < kPuts; i++) {
    ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), ids[i]));
    EXPECT_TRUE(back == data[i]) << "put " << i << " after rebuild";
  }
}

TEST(ConcurrentPut, FailedSourceLeavesTheOtherPutsAlone) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  const std::string good = StreamFor(1), bad = StreamFor(2);
  Result<format::SnapshotRecord> good_rec = Status::NotFound("not run");
  std::thread t([&] { good_rec = PutString(v.get(), "ok/one", good); });
  FailingInput failing(bad, bad.size() / 2);
  PutOptions o;
  o.source = "bad/one";
  auto bad_rec = Put(v.get(), o, {{"", &failing}});
  t.join();
  EXPECT_FALSE(bad_rec.ok());
  EXPECT_NE(bad_rec.status().message().find("source went away"), std::string::npos) << bad_rec.status().ToString();
  ASSERT_OK(good_rec.status());
  ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), good_rec->id));
  EXPECT_TRUE(back == good);
  ASSERT_OK_AND_ASSIGN(auto found, v->index()->FindAsOf("bad/one", INT64_MAX));
  EXPECT_FALSE(found.has_value());
  // The writer is still the same one: the next put needs no recovery.
  const uint64_t generation = v->lane()->generation();
  ASSERT_OK_AND_ASSIGN(auto after, PutString(v.get(), "ok/two", bad));
  EXPECT_EQ(v->lane()->generation(), generation);
  ASSERT_OK_AND_ASSIGN(back, GetString(v.get(), after.id));
  EXPECT_TRUE(back == bad);
}

TEST(ConcurrentPut, QuotaStopsAPutWithNothingCommitted) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  const std::string data = RandomBytes(4 << 20, 9);
  StringInput in(data);
  PutOptions o;
  o.source = "q/big";
  o.new_bytes_max = 1 << 20;
  auto rec = Put(v.get(), o, {{"", &in}});
  ASSERT_FALSE(rec.ok());
  EXPECT_EQ(rec.status().code(), Status::Code::kQuota) << rec.status().ToString();
  ASSERT_OK_AND_ASSIGN(auto found, v->index()->FindAsOf("q/big", INT64_MAX));
  EXPECT_FALSE(found.has_value());
  // Within the quota, the same put goes through; a repeat adds nothing new and fits any quota.
  o.new_bytes_max = 8 << 20;
  StringInput again(data);
  ASSERT_OK_AND_ASSIGN(auto ok, Put(v.get(), o, {{"", &again}}));
  o.new_bytes_max = 64 << 10;
  StringInput third(data);
  ASSERT_OK_AND_ASSIGN(auto dup, Put(v.get(), o, {{"", &third}}));
  EXPECT_EQ(dup.new_bytes, 0u);
  ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), ok.id));
  EXPECT_TRUE(back == data);
}

TEST(ConcurrentPut, FullDiskFailsThePutAndTheVolumeWritesAgainAfterwards) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  auto env = std::make_shared<io::FaultInjectionEnv>(io::Env::Create(test::TestBackend()));
  OpenOptions oo;
  oo.env = env;
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open(oo));
  const std::string first = RandomBytes(3 << 20, 11), second = RandomBytes(8 << 20, 12);
  ASSERT_OK_AND_ASSIGN(auto kept, PutString(v.get(), "disk/first", first));
  env->SetSpaceLeft(2 << 20);
  auto failed = PutString(v.get(), "disk/second", second);
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(failed.status().IsNoSpace()) << failed.status().ToString();
  // Restores go on while the disk is full.
  ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), kept.id));
  EXPECT_TRUE(back == first);
  // Space comes back: the next put recovers the tail and goes through.
  env->SetSpaceLeft(UINT64_MAX);
  ASSERT_OK_AND_ASSIGN(auto later, PutString(v.get(), "disk/second", second));
  ASSERT_OK_AND_ASSIGN(back, GetString(v.get(), later.id));
  EXPECT_TRUE(back == second);
  ASSERT_OK(CheckClean(v.get()));
  ASSERT_OK(v->Close());
  v.reset();
  ASSERT_OK_AND_ASSIGN(v, tv.Open());
  ASSERT_OK_AND_ASSIGN(back, GetString(v.get(), kept.id));
  EXPECT_TRUE(back == first);
  ASSERT_OK_AND_ASSIGN(back, GetString(v.get(), later.id));
  EXPECT_TRUE(back == second);
}

// [CRASH-3] indexed_through promises that every block before it is in the index. When one put
// syncs while another is half way, the other's blocks are before the new indexed_through, so
// their entries must be written then too: otherwise a crash after the second put's commit block
// reached the disk, and before its index batch did, would bring back a snapshot whose chunks the
// index does not know.
TEST(ConcurrentPut, EveryBlockBeforeIndexedThroughIsIndexed) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  PutOptions o;
  o.source = "half/way";
  o.batch_input = 1 << 20;
  ASSERT_OK_AND_ASSIGN(auto half, PutSession::Begin(v.get(), o));
  ASSERT_OK(half->StartStream(""));
  ASSERT_OK(half->Write(RandomBytes(12 << 20, 21)));  // batches appended, nothing synced by it
  ASSERT_OK_AND_ASSIGN(auto other, PutString(v.get(), "other", RandomBytes(1 << 20, 22)));  // syncs
  ASSERT_OK_AND_ASSIGN(auto segments, v->segment_files()->List());
  size_t checked = 0;
  for (uint64_t seg : segments) {
    ASSERT_OK_AND_ASSIGN(auto state, v->index()->GetSegment(seg));
    ASSERT_TRUE(state.has_value());
    std::ifstream f(v->segment_files()->Path(seg), std::ios::binary);
    std::stringstream bytes;
    bytes << f.rdbuf();
    const std::string all = bytes.str();
    format::StringSource src(all);
    format::SegmentScanner scan(&src, format::kSegmentHeaderSize, false);
    for (;;) {
      ASSERT_OK_AND_ASSIGN(auto b, scan.Next());
      if (!b || b->offset >= state->indexed_through) break;
      if (b->header.type != format::BlockType::kData) continue;
      ASSERT_OK_AND_ASSIGN(auto loc, v->index()->GetChunk(b->header.id));
      ASSERT_TRUE(loc.has_value()) << "data block at " << b->offset << " of segment " << seg << " is not indexed";
      checked++;
    }
  }
  EXPECT_GT(checked, 80u);  // the half-way put's blocks are among them
  ASSERT_OK(half->Write(RandomBytes(1 << 20, 23)));
  ASSERT_OK(half->EndStream());
  ASSERT_OK(half->Commit().status());
}

}  // namespace
}  // namespace bv::engine
