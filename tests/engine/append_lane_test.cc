// The append lane: the lock puts take for a batch of appends, the index entries they leave for
// the next sync point, and the writer generation that a failed writer ends.
#include "engine/append_lane.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "engine/chunk_id.h"
#include "io/fault_injection_env.h"
#include "tests/test_util.h"

namespace bv::engine {
namespace {

using test::TestVolume;

// A data block of `plain` as a put would append it, and its chunk id.
std::pair<format::Id, std::string> DataBlock(Volume* v, std::string_view plain) {
  const format::Id id = ChunkId(v->params().id_algo, v->keys().id_key, plain);
  std::string block;
  v->codec().EncodeData(id, plain, &block);
  return {id, block};
}

// Appends a data block of `plain` and leaves its index entry for the next sync point.
Location AppendChunk(Volume* v, AppendLane::Guard& lane, std::string_view plain) {
  auto [id, block] = DataBlock(v, plain);
  auto loc = lane.Append(block);
  EXPECT_TRUE(loc.ok()) << loc.status().ToString();
  lane.pending()->PutChunk(id, *loc);
  return *loc;
}

uint64_t FileSize(const TestVolume& tv, uint64_t segment) {
  return std::filesystem::file_size(tv.dir() + "/segments/" + format::SegmentFileName(segment));
}

class AppendLaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(tv_.Init());
    OpenOptions o;
    o.env = fault_;
    ASSERT_OK_AND_ASSIGN(v_, tv_.Open(o));
  }

  TestVolume tv_;
  std::shared_ptr<io::FaultInjectionEnv> fault_ =
      std::make_shared<io::FaultInjectionEnv>(io::Env::Create(test::TestBackend()));
  std::unique_ptr<Volume> v_;
};

TEST_F(AppendLaneTest, ASyncPointWritesEveryPendingEntryWithTheSegmentStates) {
  const std::string a = test::RandomBytes(10000, 1), b = test::RandomBytes(20000, 2);
  Location la, lb;
  {
    ASSERT_OK_AND_ASSIGN(AppendLane::Guard lane, v_->lane()->Lock());
    la = AppendChunk(v_.get(), lane, a);
    EXPECT_EQ(lane.unindexed_bytes(), la.total_size());
  }
  // Another holder reaches the sync point: the first holder's entry goes with its own.
  ASSERT_OK_AND_ASSIGN(AppendLane::Guard lane, v_->lane()->Lock());
  lb = AppendChunk(v_.get(), lane, b);
  EXPECT_EQ(lane.unindexed_bytes(), la.total_size() + lb.total_size());
  ASSERT_OK(lane.SyncPoint(/*durable=*/true));
  EXPECT_EQ(lane.unindexed_bytes(), 0u);
  EXPECT_EQ(lane.pending()->count(), 0u);
  for (const auto& [plain, loc] : {std::pair{&a, la}, std::pair{&b, lb}}) {
    ASSERT_OK_AND_ASSIGN(auto got, v_->index()->GetChunk(DataBlock(v_.get(), *plain).first));
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(*got, loc);
  }
  ASSERT_OK_AND_ASSIGN(auto state, v_->index()->GetSegment(lb.segment));
  ASSERT_TRUE(state.has_value());
  EXPECT_GE(state->indexed_through, lb.offset + lb.total_size());
  EXPECT_EQ(state->indexed_through, FileSize(tv_, lb.segment));  // padded to the page and synced
  EXPECT_EQ(state->indexed_through % 4096, 0u);
}

TEST_F(AppendLaneTest, APoisonedWriterFailsTheAppendsOfItsGeneration) {
  ASSERT_OK_AND_ASSIGN(uint64_t before, [&]() -> Result<uint64_t> {
    BV_ASSIGN_OR_RETURN(AppendLane::Guard lane, v_->lane()->Lock());
    return lane.generation();
  }());
  {
    ASSERT_OK_AND_ASSIGN(AppendLane::Guard lane, v_->lane()->Lock(before));
    AppendChunk(v_.get(), lane, test::RandomBytes(5000, 3));
    fault_->SetSpaceLeft(0);  // the sync point's write fails with ENOSPC
    EXPECT_FALSE(lane.SyncPoint(/*durable=*/true).ok());
    EXPECT_EQ(lane.pending()->count(), 0u);  // the entries went with the writer
    EXPECT_FALSE(lane.Append(DataBlock(v_.get(), "more").second).ok());  // no writer under this guard
  }
  fault_->SetSpaceLeft(UINT64_MAX);
  EXPECT_TRUE(v_->lane()->failed());
  EXPECT_EQ(v_->lane()->generation(), before + 1);
  // A put that appended through the dropped writer cannot go on: its blocks are in the tail
  // that recovery cuts.
  auto stale = v_->lane()->Lock(before);
  ASSERT_FALSE(stale.ok());
  EXPECT_NE(stale.status().message().find("failed under another put"), std::string::npos);
  // A new holder gets a recovered tail and a fresh writer.
  {
    ASSERT_OK_AND_ASSIGN(AppendLane::Guard lane, v_->lane()->Lock());
    EXPECT_EQ(lane.generation(), before + 1);
    AppendChunk(v_.get(), lane, test::RandomBytes(5000, 4));
    ASSERT_OK(lane.SyncPoint(/*durable=*/true));
  }
  EXPECT_FALSE(v_->lane()->failed());
}

// Abandons a put that appended one block past a sync point; says where the next block goes.
Location AbandonAfterOneBlock(Volume* v, int puts_beside, Location* abandoned) {
  v->lane()->BeginPut();
  for (int i = 0; i < puts_beside; i++) v->lane()->BeginPut();
  uint64_t generation = 0;
  {
    auto lane = v->lane()->Lock();
    EXPECT_TRUE(lane.ok());
    AppendChunk(v, *lane, test::RandomBytes(3000, 5));
    EXPECT_TRUE(lane->SyncPoint(/*durable=*/false).ok());
    *abandoned = AppendChunk(v, *lane, test::RandomBytes(2 << 20, 6));
    generation = lane->generation();
  }
  v->lane()->AbandonPut(generation);
  for (int i = 0; i <= puts_beside; i++) v->lane()->EndPut();
  auto lane = v->lane()->Lock();
  EXPECT_TRUE(lane.ok());
  return AppendChunk(v, *lane, test::RandomBytes(100, 7));
}

TEST_F(AppendLaneTest, AbandoningASoloPutCutsItsUnindexedBytes) {
  const uint64_t generation = v_->lane()->generation();
  Location abandoned;
  const Location next = AbandonAfterOneBlock(v_.get(), 0, &abandoned);
  EXPECT_EQ(next.segment, abandoned.segment);
  EXPECT_EQ(next.offset, abandoned.offset);  // the abandoned block is gone: the next one takes its place
  EXPECT_EQ(v_->lane()->generation(), generation + 1);
  EXPECT_FALSE(v_->lane()->failed());  // recovered already: the next put needs nothing
}

TEST_F(AppendLaneTest, AbandoningAPutBesideAnotherLeavesItsBytes) {
  const uint64_t generation = v_->lane()->generation();
  Location abandoned;
  const Location next = AbandonAfterOneBlock(v_.get(), 1, &abandoned);  // the other's blocks may follow ours
  EXPECT_EQ(next.offset, abandoned.offset + abandoned.total_size());
  EXPECT_EQ(v_->lane()->generation(), generation);
}

TEST(AppendLane, AVolumeOpenedToReadRefusesTheLock) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  {
    ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
    ASSERT_OK(v->Close());
  }
  OpenOptions o;
  o.read_only = true;
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open(o));
  auto lane = v->lane()->Lock();
  ASSERT_FALSE(lane.ok());
  EXPECT_NE(lane.status().message().find("read-only"), std::string::npos) << lane.status().ToString();
}

}  // namespace
}  // namespace bv::engine
