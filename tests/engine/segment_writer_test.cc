// The segment writer: blocks appended where their locations say, a sync point padded to a page
// boundary, rotation that seals the full segment, and resuming at the end recovery left.
#include "engine/segment_writer.h"

#include <gtest/gtest.h>

#include "format/coding.h"
#include "tests/engine/segment_fixture.h"

namespace bv::engine {
namespace {

using format::kBlockHeaderSize;
using format::kPageSize;
using format::kSegmentHeaderSize;
using test::PlainBlock;
using test::SegmentDir;

struct Block {
  uint64_t offset;
  format::BlockHeader header;
};

// Walks a segment file's blocks by their headers, from the end of the segment header to the end
// of the file; fails the test at the first header that does not decode.
std::vector<Block> Blocks(const std::string& bytes) {
  std::vector<Block> out;
  uint64_t off = kSegmentHeaderSize;
  while (off < bytes.size()) {
    auto h = format::DecodeBlockHeader(std::string_view(bytes).substr(off, kBlockHeaderSize));
    if (!h.ok()) {
      ADD_FAILURE() << "offset " << off << ": " << h.status().ToString();
      break;
    }
    out.push_back({off, *h});
    off += h->total_size();
  }
  EXPECT_EQ(off, bytes.size()) << "the last block runs past the end of the file";
  return out;
}

TEST(SegmentWriter, BlocksGoWhereTheirLocationsSay) {
  SegmentDir d;
  ASSERT_OK_AND_ASSIGN(auto w, SegmentWriter::Open(&d.files, d.params, 1, 0, 0));
  EXPECT_EQ(w->segment(), 1u);
  EXPECT_EQ(w->offset(), kSegmentHeaderSize);
  std::vector<std::string> blocks;
  std::vector<Location> locs;
  for (size_t n : {size_t{1}, size_t{5000}, size_t{300000}, size_t{77}}) {
    blocks.push_back(PlainBlock(n, n + 1));
    ASSERT_OK_AND_ASSIGN(Location loc, w->Append(blocks.back()));
    EXPECT_EQ(loc.segment, 1u);
    EXPECT_EQ(loc.offset, locs.empty() ? kSegmentHeaderSize : locs.back().offset + locs.back().total_size());
    EXPECT_EQ(loc.stored_len, n);
    EXPECT_EQ(loc.raw_len, n);
    EXPECT_EQ(w->offset(), loc.offset + loc.total_size());
    locs.push_back(loc);
  }
  ASSERT_OK(w->Sync());
  const std::string bytes = d.Bytes(1);
  ASSERT_OK_AND_ASSIGN(auto header, format::DecodeSegmentHeader(std::string_view(bytes).substr(0, kSegmentHeaderSize)));
  EXPECT_EQ(header.segment_number, 1u);
  EXPECT_EQ(header.params.segment_size, d.params.segment_size);
  for (size_t i = 0; i < blocks.size(); i++) {
    EXPECT_TRUE(bytes.substr(locs[i].offset, locs[i].total_size()) == blocks[i]) << i;
  }
}

TEST(SegmentWriter, SyncPadsToAPageBoundaryWithAPaddingBlock) {
  SegmentDir d;
  ASSERT_OK_AND_ASSIGN(auto w, SegmentWriter::Open(&d.files, d.params, 1, 0, 0));
  ASSERT_OK_AND_ASSIGN(Location a, w->Append(PlainBlock(1000, 1)));
  ASSERT_OK(w->Sync());
  const uint64_t synced = w->offset();
  EXPECT_EQ(synced, 2 * kPageSize);
  EXPECT_EQ(std::filesystem::file_size(d.files.Path(1)), synced);
  const std::vector<Block> blocks = Blocks(d.Bytes(1));
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].offset, a.offset);
  EXPECT_EQ(blocks[1].header.type, format::BlockType::kPadding);
  EXPECT_EQ(blocks[1].offset, a.offset + a.total_size());
  // Nothing synced is written again: later blocks start at the boundary, the bytes before it stay.
  const std::string before = d.Bytes(1);
  ASSERT_OK_AND_ASSIGN(Location b, w->Append(PlainBlock(10, 2)));
  EXPECT_EQ(b.offset, synced);
  ASSERT_OK(w->Sync());
  EXPECT_TRUE(d.Bytes(1).substr(0, before.size()) == before);
}

TEST(SegmentWriter, SyncOnABoundaryAddsNothingAndAGapTooSmallForAHeaderTakesAnotherPage) {
  SegmentDir d;
  ASSERT_OK_AND_ASSIGN(auto w, SegmentWriter::Open(&d.files, d.params, 1, 0, 0));
  ASSERT_OK(w->Append(PlainBlock(kPageSize - kBlockHeaderSize, 1)).status());  // ends on a page boundary
  ASSERT_OK(w->Sync());
  EXPECT_EQ(w->offset(), 2 * kPageSize);
  EXPECT_EQ(Blocks(d.Bytes(1)).size(), 1u);
  // 50 bytes short of a boundary: no room for a padding header there, so padding runs to the next.
  ASSERT_OK(w->Append(PlainBlock(kPageSize - kBlockHeaderSize - 50, 2)).status());
  ASSERT_OK(w->Sync());
  EXPECT_EQ(w->offset(), 4 * kPageSize);
  const std::vector<Block> blocks = Blocks(d.Bytes(1));
  ASSERT_EQ(blocks.size(), 3u);
  EXPECT_EQ(blocks[2].header.type, format::BlockType::kPadding);
  EXPECT_EQ(blocks[2].header.total_size(), kPageSize + 50);
}

TEST(SegmentWriter, ABlockThatWouldNotFitSealsTheSegmentAndStartsTheNext) {
  SegmentDir d;
  test::TempDir index_dir;
  ASSERT_OK_AND_ASSIGN(auto index, Index::Open(index_dir / "index", true));
  ASSERT_OK_AND_ASSIGN(auto w, SegmentWriter::Open(&d.files, d.params, 1, 0, 0));
  std::vector<Location> locs;
  while (locs.empty() || locs.back().segment == 1) {
    ASSERT_OK_AND_ASSIGN(Location loc, w->Append(PlainBlock(200000, locs.size() + 1)));
    locs.push_back(loc);
    ASSERT_LT(locs.size(), 20u);
  }
  EXPECT_EQ(locs.back().offset, kSegmentHeaderSize);
  EXPECT_EQ(w->segment(), 2u);
  ASSERT_OK(w->Sync());

  const std::string sealed = d.Bytes(1);
  EXPECT_LE(sealed.size(), d.params.segment_size);
  EXPECT_EQ(sealed.size() % kPageSize, 0u);
  const std::vector<Block> blocks = Blocks(sealed);
  const size_t data_blocks = locs.size() - 1;
  ASSERT_GE(blocks.size(), data_blocks + 1);
  const Block& seal = blocks[data_blocks];
  ASSERT_EQ(seal.header.type, format::BlockType::kSeal);
  ASSERT_OK_AND_ASSIGN(auto rec, format::DecodeSeal(std::string_view(sealed).substr(seal.offset + kBlockHeaderSize,
                                                                                    seal.header.stored_len)));
  EXPECT_EQ(rec.segment_number, 1u);
  EXPECT_EQ(rec.seal_offset, seal.offset);
  EXPECT_EQ(rec.block_count, data_blocks);
  for (size_t i = data_blocks + 1; i < blocks.size(); i++) EXPECT_EQ(blocks[i].header.type, format::BlockType::kPadding);

  // The index learns both: the sealed segment whole, the new one as far as it is synced.
  IndexBatch batch = index->NewBatch();
  w->RecordStates(&batch);
  ASSERT_OK(index->Write(&batch, false));
  ASSERT_OK_AND_ASSIGN(auto s1, index->GetSegment(1));
  ASSERT_TRUE(s1.has_value());
  EXPECT_TRUE(s1->sealed);
  EXPECT_EQ(s1->indexed_through, sealed.size());
  EXPECT_EQ(s1->blocks, blocks.size());
  ASSERT_OK_AND_ASSIGN(auto s2, index->GetSegment(2));
  ASSERT_TRUE(s2.has_value());
  EXPECT_FALSE(s2->sealed);
  EXPECT_EQ(s2->indexed_through, w->offset());
  EXPECT_EQ(s2->indexed_through, std::filesystem::file_size(d.files.Path(2)));
}

// Recovery may cut a torn tail inside a page: the writer resumes there, writing the page's valid
// prefix again unchanged with what follows.
TEST(SegmentWriter, ResumesAtAnEndInsideAPage) {
  SegmentDir d;
  std::vector<std::string> blocks = {PlainBlock(3000, 1), PlainBlock(2000, 2)};
  uint64_t end = 0;
  {
    ASSERT_OK_AND_ASSIGN(auto w, SegmentWriter::Open(&d.files, d.params, 1, 0, 0));
    for (const std::string& b : blocks) ASSERT_OK(w->Append(b).status());
    end = w->offset();
    ASSERT_OK(w->Sync());
  }
  ASSERT_NE(end % kPageSize, 0u);
  std::filesystem::resize_file(d.files.Path(1), end);  // the padding cut, as recovery cuts a tail
  const std::string kept = d.Bytes(1);
  ASSERT_OK_AND_ASSIGN(auto w, SegmentWriter::Open(&d.files, d.params, 1, end, blocks.size()));
  EXPECT_EQ(w->offset(), end);
  blocks.push_back(PlainBlock(100, 3));
  ASSERT_OK_AND_ASSIGN(Location loc, w->Append(blocks.back()));
  EXPECT_EQ(loc.offset, end);
  ASSERT_OK(w->Sync());
  const std::string bytes = d.Bytes(1);
  EXPECT_TRUE(bytes.substr(0, kept.size()) == kept);
  EXPECT_TRUE(bytes.substr(loc.offset, loc.total_size()) == blocks.back());
  EXPECT_EQ(Blocks(bytes).size(), 4u);  // three data blocks and the padding
}

TEST(SegmentWriter, ResumingAtAnEndThatIsNotTheFilesSizeIsCorruption) {
  SegmentDir d;
  {
    ASSERT_OK_AND_ASSIGN(auto w, SegmentWriter::Open(&d.files, d.params, 1, 0, 0));
    ASSERT_OK(w->Append(PlainBlock(100, 1)).status());
    ASSERT_OK(w->Sync());
  }
  auto w = SegmentWriter::Open(&d.files, d.params, 1, kPageSize + 196, 1);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Status::Code::kCorruption) << w.status().ToString();
  EXPECT_NE(w.status().message().find("is 8192 bytes, expected 4292"), std::string::npos) << w.status().message();
}

}  // namespace
}  // namespace bv::engine
