// The RocksDB index on its own: what a batch puts reads back, the scans' ranges and order, the
// quarantine, deletion, short ids, read-only opens; and point-in-time lookups against a model.
#include "engine/index.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <random>

#include "tests/test_util.h"

namespace bv::engine {
namespace {

using test::PutString;
using test::RandomBytes;
using test::TestVolume;

format::Id IdOf(uint8_t n) {
  format::Id id{};
  id.fill(n);
  id[0] = 0x5a;
  return id;
}

Location At(uint64_t segment, uint64_t offset, uint32_t stored_len = 1000) {
  return Location{segment, offset, stored_len, stored_len + 24};
}

SnapshotEntry Snapshot(uint64_t id, const std::string& source, int64_t time_us, uint32_t pieces = 1) {
  SnapshotEntry e;
  e.record.id = id;
  e.record.source = source;
  e.record.time_us = time_us;
  format::StreamInfo st;
  st.length = 1000 * pieces;
  st.chunk_count = pieces;
  st.recipe_pieces = pieces;
  e.record.streams.push_back(st);
  e.commit = At(1, 4096 * id % 1000000, 200);
  return e;
}

class IndexTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK_AND_ASSIGN(index_, Index::Open(tmp_ / "index", /*create_if_missing=*/true)); }

  Status Write(const std::function<void(IndexBatch*)>& fill) {
    IndexBatch b = index_->NewBatch();
    fill(&b);
    return index_->Write(&b, /*sync=*/false);
  }
  std::vector<uint64_t> ChunksAt(uint64_t segment, uint64_t from, uint64_t to) {
    std::vector<uint64_t> out;
    EXPECT_TRUE(index_->ForEachChunkAt(segment, from, to, [&](uint64_t off, const format::Id&) {
      out.push_back(off);
      return Status::Ok();
    }).ok());
    return out;
  }
  struct Piece {
    uint32_t piece;
    uint64_t start;
    Location loc;
    bool operator==(const Piece&) const = default;
  };
  std::vector<Piece> Recipes(uint64_t snapshot, uint16_t stream) {
    std::vector<Piece> out;
    EXPECT_TRUE(index_->ForEachRecipe(snapshot, stream, [&](uint32_t p, uint64_t start, const Location& loc) {
      out.push_back({p, start, loc});
      return Status::Ok();
    }).ok());
    return out;
  }

  test::TempDir tmp_;
  std::unique_ptr<Index> index_;
};

TEST_F(IndexTest, ABatchsEntriesReadBackOnlyOnceWritten) {
  const SnapshotEntry snap = Snapshot(0x1234, "pg/shop", 1764547200000000, 3);
  IndexBatch b = index_->NewBatch();
  b.PutChunk(IdOf(1), At(1, 4096));
  b.PutSnapshot(snap);
  // Pieces put out of order come back in order, each with where it starts in the stream.
  b.PutRecipe(snap.record.id, 0, 2, 2000, At(1, 20480, 300));
  b.PutRecipe(snap.record.id, 0, 0, 0, At(1, 12288, 300));
  b.PutRecipe(snap.record.id, 0, 1, 1000, At(1, 16384, 300));
  b.PutSegment(1, SegmentState{true, 24576, 6});
  EXPECT_GT(b.count(), 0u);
  ASSERT_OK_AND_ASSIGN(auto unwritten, index_->GetChunk(IdOf(1)));
  EXPECT_FALSE(unwritten.has_value());
  ASSERT_OK(index_->Write(&b, /*sync=*/true));

  ASSERT_OK_AND_ASSIGN(auto chunk, index_->GetChunk(IdOf(1)));
  ASSERT_TRUE(chunk.has_value());
  EXPECT_EQ(*chunk, At(1, 4096));
  ASSERT_OK_AND_ASSIGN(auto none, index_->GetChunk(IdOf(2)));
  EXPECT_FALSE(none.has_value());
  ASSERT_OK_AND_ASSIGN(auto got, index_->GetSnapshot(snap.record.id));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->record, snap.record);
  EXPECT_EQ(got->commit, snap.commit);
  EXPECT_EQ(Recipes(snap.record.id, 0), (std::vector<Piece>{{0, 0, At(1, 12288, 300)},
                                                            {1, 1000, At(1, 16384, 300)},
                                                            {2, 2000, At(1, 20480, 300)}}));
  EXPECT_TRUE(Recipes(snap.record.id, 1).empty());
  ASSERT_OK_AND_ASSIGN(auto seg, index_->GetSegment(1));
  ASSERT_TRUE(seg.has_value());
  EXPECT_TRUE(seg->sealed);
  EXPECT_EQ(seg->indexed_through, 24576u);
  EXPECT_EQ(seg->blocks, 6u);
  ASSERT_OK_AND_ASSIGN(auto no_seg, index_->GetSegment(2));
  EXPECT_FALSE(no_seg.has_value());
}

TEST_F(IndexTest, AMissingRecipePieceIsCorruption) {
  ASSERT_OK(Write([](IndexBatch* b) {
    b->PutRecipe(7, 0, 0, 0, At(1, 4096));
    b->PutRecipe(7, 0, 2, 2000, At(1, 8192));
  }));
  std::vector<uint32_t> seen;
  Status s = index_->ForEachRecipe(7, 0, [&](uint32_t p, uint64_t, const Location&) {
    seen.push_back(p);
    return Status::Ok();
  });
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("recipe piece 1 "), std::string::npos) << s.message();
  EXPECT_EQ(seen, std::vector<uint32_t>{0});
}

TEST_F(IndexTest, ChunksAtARangeAreThoseStartingInItOfThatSegmentOnly) {
  ASSERT_OK(Write([](IndexBatch* b) {
    b->PutChunk(IdOf(1), At(1, 4096));
    b->PutChunk(IdOf(2), At(1, 8192));
    b->PutChunk(IdOf(3), At(1, 12288));
    b->PutChunk(IdOf(4), At(2, 4096));
    b->PutChunk(IdOf(5), At(256, 4096));  // apart from segment 1 only if keys sort by number
  }));
  EXPECT_EQ(ChunksAt(1, 0, UINT64_MAX), (std::vector<uint64_t>{4096, 8192, 12288}));
  EXPECT_EQ(ChunksAt(1, 4096, 12288), (std::vector<uint64_t>{4096, 8192}));  // [from, to)
  EXPECT_EQ(ChunksAt(1, 4097, 8193), (std::vector<uint64_t>{8192}));
  EXPECT_EQ(ChunksAt(1, 12289, UINT64_MAX), std::vector<uint64_t>{});
  EXPECT_EQ(ChunksAt(2, 0, UINT64_MAX), std::vector<uint64_t>{4096});
  EXPECT_EQ(ChunksAt(256, 0, UINT64_MAX), std::vector<uint64_t>{4096});
  EXPECT_EQ(ChunksAt(3, 0, UINT64_MAX), std::vector<uint64_t>{});
  // The id at each place is the one put there.
  std::vector<format::Id> ids;
  ASSERT_OK(index_->ForEachChunkAt(1, 8192, 8193, [&](uint64_t, const format::Id& id) {
    ids.push_back(id);
    return Status::Ok();
  }));
  EXPECT_EQ(ids, std::vector<format::Id>{IdOf(2)});
}

TEST_F(IndexTest, AQuarantinedChunkIsForgottenForDedupButItsPlaceIsKept) {
  ASSERT_OK(Write([](IndexBatch* b) {
    b->PutChunk(IdOf(1), At(1, 4096));
    b->PutChunk(IdOf(2), At(1, 8192));
  }));
  ASSERT_OK_AND_ASSIGN(auto before, index_->GetQuarantined(IdOf(1)));
  EXPECT_FALSE(before.has_value());
  ASSERT_OK(Write([](IndexBatch* b) { b->QuarantineChunk(IdOf(1), At(1, 4096)); }));
  ASSERT_OK_AND_ASSIGN(auto chunk, index_->GetChunk(IdOf(1)));
  EXPECT_FALSE(chunk.has_value());
  ASSERT_OK_AND_ASSIGN(auto damaged, index_->GetQuarantined(IdOf(1)));
  ASSERT_TRUE(damaged.has_value());
  EXPECT_EQ(*damaged, At(1, 4096));
  ASSERT_OK_AND_ASSIGN(auto other, index_->GetQuarantined(IdOf(2)));
  EXPECT_FALSE(other.has_value());
  // What the damaged block held is still known by its place; dedup sees only the good chunk.
  EXPECT_EQ(ChunksAt(1, 0, UINT64_MAX), (std::vector<uint64_t>{4096, 8192}));
  std::vector<format::Id> dedup;
  ASSERT_OK(index_->ForEachChunk([&](const format::Id& id, const Location&) {
    dedup.push_back(id);
    return Status::Ok();
  }));
  EXPECT_EQ(dedup, std::vector<format::Id>{IdOf(2)});
}

TEST_F(IndexTest, ADeletedSnapshotTakesItsRecipesAndItsPlaceInItsSource) {
  const SnapshotEntry old_snap = Snapshot(0x100, "pg/shop", 1000, 2);
  const SnapshotEntry new_snap = Snapshot(0x200, "pg/shop", 2000, 2);
  ASSERT_OK(Write([&](IndexBatch* b) {
    for (const SnapshotEntry* e : {&old_snap, &new_snap}) {
      b->PutSnapshot(*e);
      b->PutRecipe(e->record.id, 0, 0, 0, At(1, e->record.id * 16));
      b->PutRecipe(e->record.id, 0, 1, 1000, At(1, e->record.id * 16 + 4096));
    }
  }));
  ASSERT_OK_AND_ASSIGN(auto newest, index_->FindAsOf("pg/shop", 5000));
  EXPECT_EQ(newest, std::optional<uint64_t>(0x200));
  ASSERT_OK(Write([&](IndexBatch* b) { b->DeleteSnapshot(new_snap, At(1, 0x9000)); }));
  ASSERT_OK_AND_ASSIGN(auto gone, index_->GetSnapshot(0x200));
  EXPECT_FALSE(gone.has_value());
  EXPECT_TRUE(Recipes(0x200, 0).empty());
  EXPECT_EQ(Recipes(0x100, 0).size(), 2u);
  ASSERT_OK_AND_ASSIGN(auto now, index_->FindAsOf("pg/shop", 5000));
  EXPECT_EQ(now, std::optional<uint64_t>(0x100));
  std::vector<uint64_t> listed;
  ASSERT_OK(index_->ForEachSnapshot("", [&](const SnapshotEntry& e) {
    listed.push_back(e.record.id);
    return true;
  }));
  EXPECT_EQ(listed, std::vector<uint64_t>{0x100});
}

TEST_F(IndexTest, SnapshotsAreFoundByAPrefixOfTheirId) {
  ASSERT_OK(Write([](IndexBatch* b) {
    b->PutSnapshot(Snapshot(0xabcd000000000001, "a", 1));
    b->PutSnapshot(Snapshot(0xabcd100000000002, "a", 2));
    b->PutSnapshot(Snapshot(0xabce000000000003, "a", 3));
  }));
  ASSERT_OK_AND_ASSIGN(auto four, index_->FindSnapshotsByPrefix(0xabcd000000000000, 16));
  EXPECT_EQ(four, (std::vector<uint64_t>{0xabcd000000000001, 0xabcd100000000002}));
  ASSERT_OK_AND_ASSIGN(auto five, index_->FindSnapshotsByPrefix(0xabcd100000000000, 20));
  EXPECT_EQ(five, std::vector<uint64_t>{0xabcd100000000002});
  ASSERT_OK_AND_ASSIGN(auto whole, index_->FindSnapshotsByPrefix(0xabce000000000003, 64));
  EXPECT_EQ(whole, std::vector<uint64_t>{0xabce000000000003});
  ASSERT_OK_AND_ASSIGN(auto none, index_->FindSnapshotsByPrefix(0xabcf000000000000, 16));
  EXPECT_TRUE(none.empty());
}

TEST(Index, AReadOnlyOpenReadsAndRefusesWrites) {
  test::TempDir tmp;
  {
    ASSERT_OK_AND_ASSIGN(auto index, Index::Open(tmp / "index", true));
    IndexBatch b = index->NewBatch();
    b.PutChunk(IdOf(1), At(1, 4096));
    ASSERT_OK(index->Write(&b, true));
  }
  ASSERT_OK_AND_ASSIGN(auto index, Index::Open(tmp / "index", false, /*read_only=*/true));
  ASSERT_OK_AND_ASSIGN(auto chunk, index->GetChunk(IdOf(1)));
  EXPECT_EQ(chunk, std::optional<Location>(At(1, 4096)));
  IndexBatch b = index->NewBatch();
  b.PutChunk(IdOf(2), At(1, 8192));
  EXPECT_FALSE(index->Write(&b, true).ok());
}

TEST(Index, AMissingIndexIsNotFoundAndNamesTheRebuild) {
  test::TempDir tmp;
  auto index = Index::Open(tmp / "index", /*create_if_missing=*/false);
  ASSERT_FALSE(index.ok());
  EXPECT_EQ(index.status().code(), Status::Code::kNotFound) << index.status().ToString();
  EXPECT_NE(index.status().message().find("rebuild-index"), std::string::npos) << index.status().message();
}

TEST(Index, PointInTimeAcrossSourcesMatchesAModel) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  std::map<std::string, std::map<int64_t, uint64_t>> model;
  std::mt19937_64 rng(42);
  const std::vector<std::string> sources = {"pg/orders", "pg/users", "mongo/app"};
  for (int i = 0; i < 60; i++) {
    const std::string& src = sources[rng() % sources.size()];
    const int64_t t = 1764547200000000 + static_cast<int64_t>(rng() % (30ull * 86400)) * 1000000;
    if (model[src].count(t)) continue;
    ASSERT_OK_AND_ASSIGN(auto rec, PutString(v.get(), src, RandomBytes(1000 + rng() % 5000, rng()), t));
    model[src][t] = rec.id;
  }
  for (int q = 0; q < 500; q++) {
    const std::string& src = sources[rng() % sources.size()];
    const int64_t t = 1764547200000000 + static_cast<int64_t>(rng() % (32ull * 86400)) * 1000000 - 86400000000;
    auto it = model[src].upper_bound(t);
    std::optional<uint64_t> want;
    if (it != model[src].begin()) want = std::prev(it)->second;
    ASSERT_OK_AND_ASSIGN(auto got, v->index()->FindAsOf(src, t));
    ASSERT_EQ(got, want) << src << " at " << t;
  }
  // Listing one source is newest first and complete.
  std::vector<int64_t> times;
  ASSERT_OK(v->index()->ForEachSnapshot("pg/orders", [&](const SnapshotEntry& e) {
    times.push_back(e.record.time_us);
    return true;
  }));
  ASSERT_EQ(times.size(), model["pg/orders"].size());
  EXPECT_TRUE(std::is_sorted(times.rbegin(), times.rend()));
}

}  // namespace
}  // namespace bv::engine
