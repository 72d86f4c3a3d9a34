#include "format/segment_scanner.h"

#include <gtest/gtest.h>

#include "format/segment_format.h"

namespace bv::format {
namespace {

std::string Block(BlockType t, std::string payload, uint8_t idbyte = 1) {
  BlockHeader h;
  h.type = t;
  h.raw_len = static_cast<uint32_t>(payload.size());
  if (t == BlockType::kData) h.id.fill(idbyte);
  if (t == BlockType::kSnapshotCommit || t == BlockType::kRecipe) h.id = SnapshotIdToBlockId(idbyte);
  return EncodeBlock(h, payload);
}

std::string Segment(std::vector<std::string> blocks, std::vector<uint64_t>* offsets) {
  SegmentHeader h;
  h.segment_number = 1;
  std::string s = EncodeSegmentHeader(h);
  for (auto& b : blocks) {
    offsets->push_back(s.size());
    s += b;
  }
  return s;
}

std::vector<uint64_t> ScanAll(SegmentScanner* sc) {
  std::vector<uint64_t> got;
  for (;;) {
    auto b = sc->Next();
    EXPECT_TRUE(b.ok());
    if (!b->has_value()) break;
    got.push_back((*b)->offset);
  }
  return got;
}

TEST(SegmentScanner, ReadsEveryBlockToTheEnd) {  // [SCAN-1]
  std::vector<uint64_t> offs;
  std::string seg = Segment({Block(BlockType::kData, "aaaa", 1), Block(BlockType::kData, "bbbbbb", 2),
                             Block(BlockType::kSnapshotCommit, "c", 3)}, &offs);
  StringSource src(seg);
  SegmentScanner sc(&src, kSegmentHeaderSize, true);
  EXPECT_EQ(ScanAll(&sc), offs);
  EXPECT_EQ(sc.stop(), ScanStop::kEnd);
  EXPECT_EQ(sc.stop_offset(), seg.size());
}

TEST(SegmentScanner, TornTailIsCleanEndAtTheLastGoodBlock) {  // [SCAN-2]
  std::vector<uint64_t> offs;
  std::string seg = Segment({Block(BlockType::kData, "aaaa", 1), Block(BlockType::kData, std::string(500, 'b'), 2)}, &offs);
  for (size_t cut = offs[1] + 1; cut < seg.size(); cut += 37) {
    StringSource src(std::string_view(seg).substr(0, cut));
    SegmentScanner sc(&src, kSegmentHeaderSize, true);
    EXPECT_EQ(ScanAll(&sc), std::vector<uint64_t>{offs[0]});
    EXPECT_EQ(sc.stop(), ScanStop::kTorn) << cut;
    EXPECT_EQ(sc.stop_offset(), offs[1]);
  }
}

TEST(SegmentScanner, DamageBeforeAValidBlockIsCorruptionAndResumes) {  // [SCAN-3]
  std::vector<uint64_t> offs;
  std::string seg = Segment({Block(BlockType::kData, "aaaa", 1), Block(BlockType::kData, "bbbb", 2),
                             Block(BlockType::kData, "cccc", 3)}, &offs);
  seg[offs[1] + kBlockHeaderSize + 1] ^= 0x10;  // payload byte of the second block
  StringSource src(seg);
  SegmentScanner sc(&src, kSegmentHeaderSize, true);
  EXPECT_EQ(ScanAll(&sc), std::vector<uint64_t>{offs[0]});
  ASSERT_EQ(sc.stop(), ScanStop::kCorrupt);
  EXPECT_EQ(sc.stop_offset(), offs[1]);
  EXPECT_EQ(sc.resume_offset(), offs[2]);
  EXPECT_NE(sc.problem().message().find("body_xxh3"), std::string::npos) << sc.problem().message();
  sc.Resume();
  EXPECT_EQ(ScanAll(&sc), std::vector<uint64_t>{offs[2]});
  EXPECT_EQ(sc.stop(), ScanStop::kEnd);
}

TEST(SegmentScanner, SealEndsTheSegment) {  // [SEAL-1]
  std::vector<uint64_t> offs;
  SegmentHeader h;
  h.segment_number = 1;
  std::string seg = EncodeSegmentHeader(h);
  seg += Block(BlockType::kData, "aaaa", 1);
  SealRecord s{1, seg.size(), 1};
  BlockHeader sh;
  sh.type = BlockType::kSeal;
  sh.raw_len = kSealPayloadSize;
  seg += EncodeBlock(sh, EncodeSeal(s));
  std::string padded = seg + Block(BlockType::kPadding, std::string(200, '\0'));
  {
    StringSource src(padded);
    SegmentScanner sc(&src, kSegmentHeaderSize, true);
    EXPECT_EQ(ScanAll(&sc).size(), 3u);
    EXPECT_EQ(sc.stop(), ScanStop::kEnd);
    EXPECT_TRUE(sc.sealed());
  }
  {
    std::string extra = seg + Block(BlockType::kData, "late", 9);
    StringSource src(extra);
    SegmentScanner sc(&src, kSegmentHeaderSize, true);
    EXPECT_EQ(ScanAll(&sc).size(), 2u);
    EXPECT_NE(sc.stop(), ScanStop::kEnd);
  }
}

TEST(SegmentScanner, EmptySegmentEndsAtTheHeader) {
  std::vector<uint64_t> offs;
  std::string seg = Segment({}, &offs);
  StringSource src(seg);
  SegmentScanner sc(&src, kSegmentHeaderSize, true);
  EXPECT_TRUE(ScanAll(&sc).empty());
  EXPECT_EQ(sc.stop(), ScanStop::kEnd);
}

}  // namespace
}  // namespace bv::format
