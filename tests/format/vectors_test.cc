// Decodes the hex test vectors of docs/format-spec.md §8 and checks every field against what the
// spec's worked examples say. The vectors are pinned bytes: an encoder change that alters them
// fails here.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "engine/block_codec.h"
#include "format/block_format.h"
#include "format/recipe_format.h"
#include "format/segment_format.h"
#include "format/snapshot_format.h"

namespace bv::format {
namespace {

std::string LoadVector(const std::string& name) {
  std::ifstream f(std::string(BV_SOURCE_DIR) + "/tests/format/vectors/" + name);
  EXPECT_TRUE(f.good()) << name;
  std::string line, bytes;
  while (std::getline(f, line)) {
    if (!line.empty() && line[0] == '#') continue;
    std::string hex;
    for (char c : line) {
      if (!std::isspace(static_cast<unsigned char>(c))) hex.push_back(c);
    }
    for (size_t i = 0; i + 1 < hex.size(); i += 2) bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return bytes;
}

struct Decoded {
  BlockHeader h;
  std::string payload;
};

Decoded DecodeVector(const std::string& name) {
  std::string bytes = LoadVector(name);
  auto h = DecodeBlockHeader(bytes);
  EXPECT_TRUE(h.ok()) << name << ": " << h.status().ToString();
  std::string payload = bytes.substr(kBlockHeaderSize);
  EXPECT_EQ(payload.size(), h->stored_len) << name;
  EXPECT_TRUE(VerifyBlockBody(*h, payload).ok()) << name;
  return {*h, payload};
}

TEST(Vectors, PlainDataBlock) {
  auto d = DecodeVector("data_plain.hex");
  EXPECT_EQ(d.h.type, BlockType::kData);
  EXPECT_EQ(d.h.flags, 0);
  Id id;
  id.fill(0x11);
  EXPECT_EQ(d.h.id, id);
  EXPECT_EQ(d.payload, "hello, BV\n");
  EXPECT_EQ(d.h.body_checksum, 0xfb29ddfb1c43e7c4ULL);
}

TEST(Vectors, CompressedEncryptedDataBlock) {
  auto d = DecodeVector("data_zstd_xchacha.hex");
  EXPECT_EQ(d.h.flags, kFlagCompressed | kFlagEncrypted);
  EXPECT_EQ(d.h.raw_len, 460u);
  Nonce n;
  n.fill(0x24);
  EXPECT_EQ(d.h.nonce, n);
  engine::VolumeKeys keys;
  keys.encrypted = true;
  keys.data_key.fill(0x42);
  engine::BlockCodec codec(keys, 3);
  std::string plain(d.h.raw_len, '\0');
  ASSERT_TRUE(codec.DecodeData(d.h, d.payload, reinterpret_cast<uint8_t*>(plain.data())).ok());
  std::string want;
  for (int i = 0; i < 20; i++) want += "COPY row 12345\tpending\n";
  EXPECT_EQ(plain, want);
  // The header is associated data: the same bytes under another id do not authenticate.
  BlockHeader moved = d.h;
  moved.id.fill(0x23);
  EXPECT_FALSE(codec.DecodeData(moved, d.payload, reinterpret_cast<uint8_t*>(plain.data())).ok());
  keys.data_key.fill(0x43);
  engine::BlockCodec wrong(keys, 3);
  EXPECT_FALSE(wrong.DecodeData(d.h, d.payload, reinterpret_cast<uint8_t*>(plain.data())).ok());
}

TEST(Vectors, RecipeBlock) {
  auto d = DecodeVector("recipe.hex");
  EXPECT_EQ(d.h.type, BlockType::kRecipe);
  EXPECT_EQ(SnapshotIdFromBlockId(d.h.id), 0x0123456789abcdefULL);
  auto r = DecodeRecipe(d.payload);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->entries.size(), 2u);
  EXPECT_EQ(r->entries[0].length, 10u);
  EXPECT_EQ(r->entries[1].length, 460u);
  EXPECT_EQ(r->entries[1].chunk_id[31], 0x22);
}

TEST(Vectors, CommitBlock) {
  auto d = DecodeVector("commit.hex");
  EXPECT_EQ(d.h.type, BlockType::kSnapshotCommit);
  auto r = DecodeSnapshot(d.payload);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->id, 0x0123456789abcdefULL);
  EXPECT_EQ(r->source, "pg/orders");
  EXPECT_EQ(r->label, "nightly");
  EXPECT_EQ(r->time_us, 1764558000000000);
  ASSERT_EQ(r->streams.size(), 1u);
  EXPECT_EQ(r->streams[0].length, 470u);
  EXPECT_EQ(r->streams[0].chunk_count, 2u);
}

TEST(Vectors, DeletionBlock) {
  auto d = DecodeVector("deletion.hex");
  EXPECT_EQ(d.h.type, BlockType::kSnapshotDeletion);
  auto r = DecodeDeletion(d.payload);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->snapshot_id, 0x0123456789abcdefULL);
  EXPECT_EQ(r->reason, "keep-last 1");
}

TEST(Vectors, PaddingAndSealBlocks) {
  auto p = DecodeVector("padding.hex");
  EXPECT_EQ(p.h.type, BlockType::kPadding);
  EXPECT_EQ(p.payload, std::string(32, '\0'));
  auto s = DecodeVector("seal.hex");
  EXPECT_EQ(s.h.type, BlockType::kSeal);
  auto seal = DecodeSeal(s.payload);
  ASSERT_TRUE(seal.ok());
  EXPECT_EQ(seal->segment_number, 1u);
  EXPECT_EQ(seal->seal_offset, 8192u);
  EXPECT_EQ(seal->block_count, 3u);
}

TEST(Vectors, SegmentHeader) {
  std::string bytes = LoadVector("segment_header.hex");
  ASSERT_EQ(bytes.size(), kSegmentHeaderSize);
  auto h = DecodeSegmentHeader(bytes);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->segment_number, 1u);
  EXPECT_EQ(h->params.UuidString(), "000102030405060708090a0b0c0d0e0f");
  EXPECT_EQ(h->params.chunk_min, 16u << 10);
  EXPECT_EQ(h->params.chunk_avg, 64u << 10);
  EXPECT_EQ(h->params.chunk_max, 256u << 10);
  EXPECT_EQ(h->params.segment_size, 256ull << 20);
  EXPECT_EQ(h->params.cipher, Cipher::kXChaCha20Poly1305);
  EXPECT_EQ(h->params.id_algo, IdAlgo::kBlake2bKeyed);
}

}  // namespace
}  // namespace bv::format
