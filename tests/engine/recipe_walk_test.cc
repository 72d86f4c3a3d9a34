// Walking a stream's recipe: every chunk once and in order, a range covered exactly, ranges outside
// the stream refused, and recipe pieces checked to belong where the index places them.
#include "engine/recipe_walk.h"

#include <gtest/gtest.h>

#include "engine/chunk_id.h"
#include "tests/test_util.h"

namespace bv::engine {
namespace {

using test::PutString;
using test::RandomBytes;
using test::TestVolume;

struct Walked {
  uint64_t stream_offset;
  uint32_t skip, take, length;
  format::Id id;
};

// A volume of small chunks (2 KiB on average), so that a 20 MiB stream spans three recipe pieces.
class RecipeWalkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitOptions io;
    io.chunk_min = 1 << 10;
    io.chunk_avg = 2 << 10;
    io.chunk_max = 8 << 10;
    ASSERT_OK(tv_.Init(io));
    ASSERT_OK_AND_ASSIGN(v_, tv_.Open());
    for (uint64_t seed : {1, 2}) {
      data_.push_back(RandomBytes(seed == 1 ? 20 << 20 : 10 << 20, seed));  // three pieces, two
      ASSERT_OK_AND_ASSIGN(auto rec, PutString(v_.get(), "walk/" + std::to_string(seed), data_.back()));
      ASSERT_OK_AND_ASSIGN(auto e, v_->index()->GetSnapshot(rec.id));
      ASSERT_TRUE(e.has_value());
      snaps_.push_back(*e);
    }
    ASSERT_EQ(snaps_[0].record.streams[0].recipe_pieces, 3u);
    ASSERT_GE(snaps_[1].record.streams[0].recipe_pieces, 2u);
    ASSERT_OK(v_->index()->ForEachRecipe(snaps_[0].record.id, 0, [&](uint32_t, uint64_t start, const Location& loc) {
      starts_.push_back(start);
      pieces_.push_back(loc);
      return Status::Ok();
    }));
  }
  Result<std::vector<Walked>> Walk(const SnapshotEntry& e, std::optional<ByteRange> range, uint16_t stream = 0) {
    SegmentReader reader(v_->segment_files());
    std::vector<Walked> out;
    BV_RETURN_IF_ERROR(WalkRecipe(v_.get(), &reader, e, stream, range, [&](const ChunkRef& c) {
      out.push_back({c.stream_offset, c.skip, c.take, c.entry.length, c.entry.chunk_id});
      return Status::Ok();
    }));
    return out;
  }

  TestVolume tv_;
  std::unique_ptr<Volume> v_;
  std::vector<std::string> data_;
  std::vector<SnapshotEntry> snaps_;
  std::vector<uint64_t> starts_;  // of snapshot 0's pieces
  std::vector<Location> pieces_;
};

TEST_F(RecipeWalkTest, AWholeWalkGivesEveryChunkOnceInOrder) {
  ASSERT_OK_AND_ASSIGN(auto chunks, Walk(snaps_[0], std::nullopt));
  const format::StreamInfo& info = snaps_[0].record.streams[0];
  EXPECT_EQ(chunks.size(), info.chunk_count);
  uint64_t offset = 0;
  for (const Walked& c : chunks) {
    ASSERT_EQ(c.stream_offset, offset);
    ASSERT_EQ(c.skip, 0u);
    ASSERT_EQ(c.take, c.length);
    // The recipe's id is the id of the source bytes at that place.
    ASSERT_EQ(c.id, ChunkId(v_->params().id_algo, v_->keys().id_key, std::string_view(data_[0]).substr(offset, c.length)))
        << "at " << offset;
    offset += c.length;
  }
  EXPECT_EQ(offset, info.length);
}

TEST_F(RecipeWalkTest, ARangeWalkCoversTheRangeExactly) {
  const uint64_t n = data_[0].size();
  for (ByteRange r : std::vector<ByteRange>{{0, 1}, {0, n}, {n - 1, n}, {1000, 1001}, {5000, 300000},
                                            {starts_[1] - 1, starts_[1] + 1}, {starts_[1], starts_[1] + 1},
                                            {starts_[1] - 10, starts_[2] + 10}, {starts_[2], n}, {12345, n - 3}}) {
    ASSERT_OK_AND_ASSIGN(auto chunks, Walk(snaps_[0], r));
    uint64_t next = r.begin;
    for (const Walked& c : chunks) {
      ASSERT_GT(c.take, 0u);
      ASSERT_LE(c.skip + c.take, c.length);
      ASSERT_EQ(c.stream_offset + c.skip, next) << r.begin << "-" << r.end;
      next += c.take;
    }
    EXPECT_EQ(next, r.end) << r.begin << "-" << r.end;
  }
  for (uint64_t at : {uint64_t{0}, starts_[1], n}) {
    ASSERT_OK_AND_ASSIGN(auto none, Walk(snaps_[0], ByteRange{at, at}));
    EXPECT_TRUE(none.empty()) << at;
  }
}

TEST_F(RecipeWalkTest, ARangeOutsideTheStreamOrAnUnknownStreamIsInvalidArgument) {
  const uint64_t n = data_[0].size();
  for (ByteRange r : std::vector<ByteRange>{{0, n + 1}, {n, n + 1}, {n + 10, n + 20}, {5, 4}}) {
    auto walked = Walk(snaps_[0], r);
    ASSERT_FALSE(walked.ok()) << r.begin << "-" << r.end;
    EXPECT_EQ(walked.status().code(), Status::Code::kInvalidArgument) << walked.status().ToString();
    EXPECT_NE(walked.status().message().find("is outside the stream of " + std::to_string(n) + " bytes"),
              std::string::npos)
        << walked.status().message();
  }
  auto other = Walk(snaps_[0], std::nullopt, 1);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(other.status().message().find("has no stream 1"), std::string::npos) << other.status().message();
}

TEST_F(RecipeWalkTest, APieceOfAnotherSnapshotDoesNotBelongHere) {
  // The index places snapshot 1's second piece where snapshot 0's should be.
  Location theirs;
  ASSERT_OK(v_->index()->ForEachRecipe(snaps_[1].record.id, 0, [&](uint32_t piece, uint64_t, const Location& loc) {
    if (piece == 1) theirs = loc;
    return Status::Ok();
  }));
  IndexBatch b = v_->index()->NewBatch();
  b.PutRecipe(snaps_[0].record.id, 0, 1, starts_[1], theirs);
  ASSERT_OK(v_->index()->Write(&b, false));
  for (std::optional<ByteRange> r : {std::optional<ByteRange>(), std::optional<ByteRange>(ByteRange{starts_[1], starts_[1] + 1})}) {
    auto walked = Walk(snaps_[0], r);
    ASSERT_FALSE(walked.ok());
    EXPECT_EQ(walked.status().code(), Status::Code::kCorruption);
    EXPECT_NE(walked.status().message().find(StreamPlace(snaps_[0], 0, starts_[1]) + ": recipe piece 1 at segment " +
                                             std::to_string(theirs.segment) + " offset " + std::to_string(theirs.offset) +
                                             " does not belong here"),
              std::string::npos)
        << walked.status().message();
  }
  // A range the wrong piece does not touch is still read from the right ones.
  ASSERT_OK(Walk(snaps_[0], ByteRange{0, 100}).status());
}

TEST_F(RecipeWalkTest, AWholeWalkMissingItsLastPieceIsCorruption) {
  IndexBatch b = v_->index()->NewBatch();
  b.DeleteRecipesFrom(snaps_[0].record.id, 0, 2);
  ASSERT_OK(v_->index()->Write(&b, false));
  auto walked = Walk(snaps_[0], std::nullopt);
  ASSERT_FALSE(walked.ok());
  EXPECT_EQ(walked.status().code(), Status::Code::kCorruption);
  EXPECT_NE(walked.status().message().find("recipes cover " + std::to_string(starts_[2]) + " bytes in 2 pieces; the "
                                           "snapshot says " + std::to_string(data_[0].size()) + " bytes in 3"),
            std::string::npos)
      << walked.status().message();
}

TEST(RecipeWalk, StreamPlaceNamesSnapshotStreamAndByte) {
  SnapshotEntry e;
  e.record.id = 0x0123456789abcdef;
  EXPECT_EQ(StreamPlace(e, 2, 4096), "snapshot 0123456789abcdef stream 2 at byte 4096");
}

}  // namespace
}  // namespace bv::engine
