// Where a stream's blocks are stored: each chunk located through the index (quarantined, unknown
// and impossible locations named), and for shipping, the cached segment file that holds it.
#include "engine/stored_blocks.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "tests/test_util.h"

namespace bv::engine {
namespace {

using test::PutString;
using test::RandomBytes;
using test::TestVolume;

struct Shipped {
  format::Id id;
  uint64_t stream_offset;
  uint32_t skip, take;
  io::File* file;
  Location where;
};

// Small segments, so that one stream's blocks are in several files.
class StoredBlocksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitOptions io;
    io.segment_size = 1 << 20;
    ASSERT_OK(tv_.Init(io));
    ASSERT_OK_AND_ASSIGN(v_, tv_.Open());
    data_ = RandomBytes(6 << 20, 11);
    ASSERT_OK_AND_ASSIGN(auto rec, PutString(v_.get(), "ship/a", data_));
    ASSERT_OK_AND_ASSIGN(auto e, v_->index()->GetSnapshot(rec.id));
    ASSERT_TRUE(e.has_value());
    snap_ = *e;
  }
  Result<std::vector<Shipped>> Ship(std::optional<ByteRange> range) {
    std::vector<Shipped> out;
    BV_RETURN_IF_ERROR(ForEachStoredBlock(v_.get(), snap_, 0, range, 1 << 20,
                                          [&](const ChunkRef& c, io::File* file, const Location& where) {
      out.push_back({c.entry.chunk_id, c.stream_offset, c.skip, c.take, file, where});
      return Status::Ok();
    }));
    return out;
  }
  // The location of the first chunk of the stream, and its id.
  std::pair<format::Id, Location> FirstChunk() {
    auto shipped = Ship(ByteRange{0, 1});
    BV_ASSERT(shipped.ok() && shipped->size() == 1);
    return {(*shipped)[0].id, (*shipped)[0].where};
  }
  Status ExpectLocateFails(const std::string& says) {
    SegmentReader reader(v_->segment_files());
    bool located_first = false;
    Status walk = WalkRecipe(v_.get(), &reader, snap_, 0, ByteRange{0, 1}, [&](const ChunkRef& c) {
      auto loc = LocateChunk(v_.get(), snap_, 0, c);
      EXPECT_FALSE(loc.ok());
      if (!loc.ok()) {
        EXPECT_EQ(loc.status().code(), Status::Code::kCorruption);
        EXPECT_EQ(loc.status().message().rfind(StreamPlace(snap_, 0, 0) + ": ", 0), 0u) << loc.status().message();
        EXPECT_NE(loc.status().message().find(says), std::string::npos) << loc.status().message();
      }
      located_first = true;
      return Status::Ok();
    });
    EXPECT_TRUE(located_first);
    // Shipping the stream stops at that chunk with the same error.
    auto shipped = Ship(std::nullopt);
    EXPECT_FALSE(shipped.ok());
    if (!shipped.ok()) {
      EXPECT_NE(shipped.status().message().find(says), std::string::npos) << shipped.status().message();
    }
    return walk;
  }

  TestVolume tv_;
  std::unique_ptr<Volume> v_;
  std::string data_;
  SnapshotEntry snap_;
};

TEST_F(StoredBlocksTest, EveryChunkIsShippedInOrderFromTheCachedFileTheIndexNames) {
  ASSERT_OK_AND_ASSIGN(auto shipped, Ship(std::nullopt));
  ASSERT_EQ(shipped.size(), snap_.record.streams[0].chunk_count);
  std::set<uint64_t> segments;
  uint64_t offset = 0;
  for (const Shipped& s : shipped) {
    ASSERT_EQ(s.stream_offset, offset);
    offset += s.take;
    ASSERT_OK_AND_ASSIGN(auto indexed, v_->index()->GetChunk(s.id));
    ASSERT_TRUE(indexed.has_value());
    EXPECT_EQ(s.where, *indexed);
    // Opened through the page cache, to splice: the volume's cached file of that segment.
    ASSERT_NE(s.file, nullptr);
    EXPECT_FALSE(s.file->direct());
    ASSERT_OK_AND_ASSIGN(auto cached, v_->segment_files()->Open(s.where.segment, SegmentAccess::kCached));
    EXPECT_EQ(s.file, cached.get());
    // The block there is the chunk's.
    std::string header(format::kBlockHeaderSize, '\0');
    ASSERT_OK_AND_ASSIGN(size_t got, s.file->ReadAt(s.where.offset, header.data(), header.size()));
    ASSERT_EQ(got, header.size());
    ASSERT_OK_AND_ASSIGN(auto h, format::DecodeBlockHeader(header));
    EXPECT_EQ(h.id, s.id);
    EXPECT_EQ(h.stored_len, s.where.stored_len);
    segments.insert(s.where.segment);
  }
  EXPECT_EQ(offset, data_.size());
  EXPECT_GE(segments.size(), 4u);
}

TEST_F(StoredBlocksTest, ARangeShipsOnlyTheChunksItTouches) {
  ASSERT_OK_AND_ASSIGN(auto all, Ship(std::nullopt));
  const ByteRange r{(2 << 20) + 5, (3 << 20) + 7};
  ASSERT_OK_AND_ASSIGN(auto part, Ship(r));
  ASSERT_FALSE(part.empty());
  EXPECT_LT(part.size(), all.size());
  EXPECT_EQ(part.front().stream_offset + part.front().skip, r.begin);
  EXPECT_EQ(part.back().stream_offset + part.back().skip + part.back().take, r.end);
  uint64_t taken = 0;
  for (const Shipped& s : part) taken += s.take;
  EXPECT_EQ(taken, r.end - r.begin);
}

TEST_F(StoredBlocksTest, AQuarantinedChunkIsNamedWithWhereItsDamagedCopyIs) {
  const auto [id, where] = FirstChunk();
  ASSERT_OK_AND_ASSIGN(bool quarantined, v_->Quarantine(id, where));
  ASSERT_TRUE(quarantined);
  ASSERT_OK(ExpectLocateFails("is damaged (segment " + std::to_string(where.segment) + " offset " +
                              std::to_string(where.offset) + ") and quarantined"));
}

TEST_F(StoredBlocksTest, AChunkTheIndexDoesNotKnowIsCorruption) {
  const auto [id, where] = FirstChunk();
  IndexBatch b = v_->index()->NewBatch();
  b.DeleteChunk(id);
  ASSERT_OK(v_->index()->Write(&b, false));
  ASSERT_OK(ExpectLocateFails("is not in the index"));
}

// The index refuses to decode a location beyond the format's limits before LocateChunk sees it
// (LocateChunk checks again, for whatever else hands it one): shipping stops there.
TEST_F(StoredBlocksTest, ALocationBeyondTheFormatsLimitStopsTheShipping) {
  auto [id, where] = FirstChunk();
  where.stored_len = format::kBlockPayloadMax + 1;
  IndexBatch b = v_->index()->NewBatch();
  b.PutChunk(id, where);
  ASSERT_OK(v_->index()->Write(&b, false));
  auto shipped = Ship(std::nullopt);
  ASSERT_FALSE(shipped.ok());
  EXPECT_EQ(shipped.status().code(), Status::Code::kCorruption) << shipped.status().ToString();
  EXPECT_NE(shipped.status().message().find("larger than " + std::to_string(format::kBlockPayloadMax) + " bytes"),
            std::string::npos)
      << shipped.status().message();
}

TEST_F(StoredBlocksTest, AMissingSegmentFileIsCorruptionNamingIt) {
  // A segment in the middle of the stream's, which holds chunks but none of its recipe pieces.
  ASSERT_OK_AND_ASSIGN(auto all, Ship(std::nullopt));
  const uint64_t segment = all[all.size() / 2].where.segment;
  ASSERT_OK(v_->index()->ForEachRecipe(snap_.record.id, 0, [&](uint32_t, uint64_t, const Location& loc) {
    EXPECT_NE(loc.segment, segment);
    return Status::Ok();
  }));
  v_->segment_files()->Forget(segment);
  std::filesystem::remove(v_->segment_files()->Path(segment));
  auto shipped = Ship(std::nullopt);
  ASSERT_FALSE(shipped.ok());
  EXPECT_EQ(shipped.status().code(), Status::Code::kCorruption) << shipped.status().ToString();
  EXPECT_NE(shipped.status().message().find(SegmentFiles::Name(segment) + " is missing"), std::string::npos)
      << shipped.status().message();
}

}  // namespace
}  // namespace bv::engine
