#include "format/block_format.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "format/coding.h"
#include "tests/test_util.h"

namespace bv::format {
namespace {

BlockHeader DataHeader() {
  BlockHeader h;
  h.type = BlockType::kData;
  h.flags = kFlagCompressed;
  h.raw_len = 100;
  h.id.fill(0xab);
  return h;
}

// Re-seals a header whose bytes a test changed, so the checksum is not what rejects it.
void FixHeaderChecksum(std::string* block) {
  EncodeFixed64(block->data() + kBlockHeaderChecksumOffset,
                Checksum(std::string_view(*block).substr(0, kBlockHeaderChecksumOffset)));
}

TEST(BlockFormat, ChecksumIsPinned) {  // [BLK-4] the checksum function never changes
  EXPECT_EQ(Checksum(""), 0x2d06800538d394c2ULL);
  EXPECT_EQ(Checksum("BVBK block"), 0x59da238ddf957e3aULL);
}

TEST(BlockFormat, RoundTrip) {
  std::string block = EncodeBlock(DataHeader(), "payload bytes");
  ASSERT_EQ(block.size(), kBlockHeaderSize + 13);
  auto h = DecodeBlockHeader(block);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->type, BlockType::kData);
  EXPECT_EQ(h->flags, kFlagCompressed);
  EXPECT_EQ(h->stored_len, 13u);
  EXPECT_EQ(h->raw_len, 100u);
  EXPECT_EQ(h->id, DataHeader().id);
  EXPECT_TRUE(VerifyBlockBody(*h, std::string_view(block).substr(kBlockHeaderSize)).ok());
}

TEST(BlockFormat, EverySingleBitFlipIsRejected) {  // [BLK-5]
  for (BlockType t : {BlockType::kData, BlockType::kRecipe, BlockType::kSnapshotCommit,
                      BlockType::kSnapshotDeletion, BlockType::kPadding, BlockType::kSeal}) {
    BlockHeader h;
    h.type = t;
    std::string payload = "some payload of a block";
    if (t == BlockType::kData) h = DataHeader();
    if (t == BlockType::kRecipe || t == BlockType::kSnapshotCommit || t == BlockType::kSnapshotDeletion) {
      h.id = SnapshotIdToBlockId(42);
    }
    if (t != BlockType::kData) h.raw_len = static_cast<uint32_t>(payload.size());
    const std::string block = EncodeBlock(h, payload);
    for (size_t bit = 0; bit < block.size() * 8; bit++) {
      std::string bad = block;
      bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
      auto d = DecodeBlockHeader(bad);
      const bool rejected = !d.ok() || !VerifyBlockBody(*d, std::string_view(bad).substr(kBlockHeaderSize)).ok();
      ASSERT_TRUE(rejected) << BlockTypeName(t) << " bit " << bit;
    }
  }
}

TEST(BlockFormat, EveryTruncationIsRejected) {
  const std::string block = EncodeBlock(DataHeader(), "0123456789");
  for (size_t n = 0; n < block.size(); n++) {
    std::string_view cut(block.data(), n);
    auto d = DecodeBlockHeader(cut);
    const bool rejected = !d.ok() || !VerifyBlockBody(*d, cut.substr(std::min(n, kBlockHeaderSize))).ok();
    ASSERT_TRUE(rejected) << "length " << n;
  }
}

TEST(BlockFormat, BadMagicNamesFieldAndOffset) {
  std::string block = EncodeBlock(DataHeader(), "x");
  block[0] = 'X';
  auto d = DecodeBlockHeader(block);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("magic at offset 0"), std::string::npos) << d.status().message();
}

TEST(BlockFormat, UnknownTypeIsRejectedWithItsOffset) {  // [BLK-2]
  std::string block = EncodeBlock(DataHeader(), "x");
  block[4] = 9;
  FixHeaderChecksum(&block);
  auto d = DecodeBlockHeader(block);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("type at offset 4"), std::string::npos) << d.status().message();
  block[4] = static_cast<char>(BlockType::kDelta);  // reserved for a later version
  FixHeaderChecksum(&block);
  EXPECT_FALSE(DecodeBlockHeader(block).ok());
}

TEST(BlockFormat, ReservedBytesMustBeZero) {  // [BLK-3]
  for (size_t off : {6, 7, 72, 79}) {
    std::string block = EncodeBlock(DataHeader(), "x");
    block[off] = 1;
    FixHeaderChecksum(&block);
    auto d = DecodeBlockHeader(block);
    ASSERT_FALSE(d.ok()) << off;
    EXPECT_NE(d.status().message().find("reserved"), std::string::npos);
  }
}

TEST(BlockFormat, UnknownFlagAndBadLengthsAreRejected) {  // [BLK-1] [BLK-6]
  std::string block = EncodeBlock(DataHeader(), "x");
  block[5] = static_cast<char>(0x80);
  FixHeaderChecksum(&block);
  EXPECT_FALSE(DecodeBlockHeader(block).ok());

  block = EncodeBlock(DataHeader(), "x");
  EncodeFixed32(block.data() + 8, kBlockPayloadMax + 1);
  FixHeaderChecksum(&block);
  auto d = DecodeBlockHeader(block);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("stored_len at offset 8"), std::string::npos);
}

TEST(BlockFormat, OnlyDataBlocksHaveFlagsAndEachTypeItsIdRule) {  // [BLK-8] [BLK-11]
  // A flag on a metadata block, sealed with a valid header checksum, is refused.
  std::string commit = EncodeSnapshotBlock(BlockType::kSnapshotCommit, 7, "x");
  commit[5] = static_cast<char>(kFlagCompressed);
  FixHeaderChecksum(&commit);
  EXPECT_FALSE(DecodeBlockHeader(commit).ok());
  BlockHeader h = DataHeader();
  h.id.fill(0);
  EXPECT_FALSE(ValidateBlockHeader(h).ok());  // a data block names its chunk
  h = DataHeader();
  h.raw_len = 0;
  EXPECT_FALSE(ValidateBlockHeader(h).ok());  // and holds at least one byte
  BlockHeader meta;
  meta.type = BlockType::kRecipe;
  meta.id = SnapshotIdToBlockId(9);
  meta.raw_len = meta.stored_len = 1;
  EXPECT_TRUE(ValidateBlockHeader(meta).ok());
  meta.id[20] = 1;  // bytes 8..32 of a snapshot's id field are zero
  EXPECT_FALSE(ValidateBlockHeader(meta).ok());
  meta.id = SnapshotIdToBlockId(0);
  EXPECT_FALSE(ValidateBlockHeader(meta).ok());  // snapshot id 0
  BlockHeader pad;
  pad.type = BlockType::kPadding;
  pad.id.fill(0);
  EXPECT_TRUE(ValidateBlockHeader(pad).ok());
  pad.id[0] = 1;
  EXPECT_FALSE(ValidateBlockHeader(pad).ok());  // padding and seal carry no id
}

TEST(BlockFormat, EncryptedBlockNeedsNonceAndTag) {  // [BLK-9] [BLK-10]
  BlockHeader h = DataHeader();
  h.flags = kFlagEncrypted;
  h.raw_len = 4;
  EXPECT_FALSE(ValidateBlockHeader(h).ok());  // zero nonce
  h.nonce.fill(1);
  h.stored_len = 4 + kTagSize;
  EXPECT_TRUE(ValidateBlockHeader(h).ok());
  h.stored_len = 4;
  EXPECT_FALSE(ValidateBlockHeader(h).ok());
}

RC_GTEST_PROP(BlockFormatProp, EncodeDecodeRoundTrips, (uint32_t raw_len, std::vector<uint8_t> payload, bool compressed)) {
  BlockHeader h;
  h.type = BlockType::kData;
  h.flags = compressed ? kFlagCompressed : 0;
  h.id.fill(7);
  h.raw_len = compressed ? (raw_len % kBlockPayloadMax) + 1 : static_cast<uint32_t>(payload.size());
  RC_PRE(compressed || !payload.empty());
  std::string p(payload.begin(), payload.end());
  std::string block = EncodeBlock(h, p);
  auto d = DecodeBlockHeader(block);
  RC_ASSERT(d.ok());
  RC_ASSERT(d->raw_len == h.raw_len);
  RC_ASSERT(d->stored_len == p.size());
  RC_ASSERT(d->flags == h.flags);
  RC_ASSERT(VerifyBlockBody(*d, std::string_view(block).substr(kBlockHeaderSize)).ok());
}

}  // namespace
}  // namespace bv::format
