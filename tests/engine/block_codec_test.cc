// What a restore (DecodeChunk) and a verify (DecodeData) check of a data block: a restore lets an
// encrypted block's AEAD tag stand for body_xxh3 and checks body_xxh3 only to name a failure;
// verify checks both, always.
#include "engine/block_codec.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <zstd.h>

#include <string>

#include "bench/dumpgen.h"

namespace bv::engine {
namespace {

VolumeKeys Keys(bool encrypted, uint8_t fill) {
  VolumeKeys k;
  k.encrypted = encrypted;
  k.data_key.fill(fill);
  return k;
}

std::string Plain() {
  std::string s;
  for (int i = 0; s.size() < (40 << 10); i++) s += "COPY row " + std::to_string(i * 7919 % 100003) + "\tpending\n";
  return s;
}

struct Block {
  format::BlockHeader h;
  std::string payload;
};

Block Encode(const BlockCodec& codec, std::string_view plain) {
  format::Id id;
  id.fill(0x5a);
  std::string bytes;
  codec.EncodeData(id, plain, &bytes);
  auto h = format::DecodeBlockHeader(std::string_view(bytes).substr(0, format::kBlockHeaderSize));
  EXPECT_TRUE(h.ok()) << h.status().ToString();
  return {*h, bytes.substr(format::kBlockHeaderSize)};
}

Status Restore(const BlockCodec& codec, const Block& b, std::string* out) {
  out->assign(b.h.raw_len, '\0');
  auto chunk = codec.DecodeChunk(b.h, b.payload, reinterpret_cast<uint8_t*>(out->data()), BodyCheck::kWhenTagFails);
  if (!chunk.ok()) return chunk.status();
  out->assign(*chunk);
  return Status::Ok();
}

Status Verify(const BlockCodec& codec, const Block& b) {
  std::string out(b.h.raw_len, '\0');
  return codec.DecodeData(b.h, b.payload, reinterpret_cast<uint8_t*>(out.data()));
}

bool Mentions(const Status& s, const char* what) { return s.message().find(what) != std::string::npos; }

TEST(BlockCodec, RestoresWhatItEncodesEncryptedOrNot) {
  ASSERT_GE(sodium_init(), 0);
  for (bool encrypted : {false, true}) {
    const VolumeKeys keys = Keys(encrypted, 0x42);
    BlockCodec codec(keys, 1);
    const std::string plain = Plain();
    Block b = Encode(codec, plain);
    EXPECT_TRUE(b.h.compressed());
    EXPECT_EQ(b.h.encrypted(), encrypted);
    std::string out;
    ASSERT_TRUE(Restore(codec, b, &out).ok());
    EXPECT_EQ(out, plain);
    EXPECT_TRUE(Verify(codec, b).ok());
  }
}

TEST(BlockCodec, AFlippedPayloadByteIsNamedAsDamageByRestoreAndVerify) {
  for (bool encrypted : {false, true}) {
    const VolumeKeys keys = Keys(encrypted, 0x42);
    BlockCodec codec(keys, 1);
    Block b = Encode(codec, Plain());
    b.payload[b.payload.size() / 2] ^= 0x08;
    std::string out;
    Status r = Restore(codec, b, &out);
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(Mentions(r, "body_xxh3")) << r.ToString();
    Status v = Verify(codec, b);
    EXPECT_TRUE(Mentions(v, "body_xxh3")) << v.ToString();
  }
}

TEST(BlockCodec, ABlockSealedUnderAnotherKeyIsNamedByItsTag) {
  const VolumeKeys keys = Keys(true, 0x42), other = Keys(true, 0x43);
  BlockCodec codec(keys, 1), wrong(other, 1);
  Block b = Encode(codec, Plain());
  std::string out;
  Status r = Restore(wrong, b, &out);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(Mentions(r, "authentication tag does not verify")) << r.ToString();
  EXPECT_TRUE(Mentions(Verify(wrong, b), "authentication tag does not verify"));
}

// Only body_xxh3 is wrong (the header's own checksum made to match): the payload is exactly what
// was sealed, so a restore, which the tag authenticates, gives the chunk; verify reports the field.
TEST(BlockCodec, RestoreLetsTheTagStandForTheBodyChecksumVerifyChecksBoth) {  // [BLK-7]
  const VolumeKeys keys = Keys(true, 0x42);
  BlockCodec codec(keys, 1);
  const std::string plain = Plain();
  Block b = Encode(codec, plain);
  b.h.body_checksum ^= 1;
  char header[format::kBlockHeaderSize];
  format::EncodeBlockHeader(b.h, header);
  ASSERT_TRUE(format::DecodeBlockHeader(std::string_view(header, sizeof header)).ok());
  std::string out;
  ASSERT_TRUE(Restore(codec, b, &out).ok());
  EXPECT_EQ(out, plain);
  Status v = Verify(codec, b);
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(Mentions(v, "body_xxh3")) << v.ToString();

  // Unencrypted, nothing else vouches for the body: the restore checks body_xxh3 itself.
  const VolumeKeys plain_keys = Keys(false, 0);
  BlockCodec unencrypted(plain_keys, 1);
  Block u = Encode(unencrypted, plain);
  u.h.body_checksum ^= 1;
  Status r = Restore(unencrypted, u, &out);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(Mentions(r, "body_xxh3")) << r.ToString();
}

TEST(BlockCodec, APayloadOfAnotherLengthIsRefusedBeforeDecoding) {
  const VolumeKeys keys = Keys(true, 0x42);
  BlockCodec codec(keys, 1);
  Block b = Encode(codec, Plain());
  b.payload.pop_back();
  std::string out;
  Status r = Restore(codec, b, &out);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(Mentions(r, "header says")) << r.ToString();
}

// Level 1's tuned match finder (block_codec.h) keeps Huffman-coding literals: without that, dump
// text stores about half again as much. Held to zstd's own level 3 on the same 64 KiB chunks.
TEST(BlockCodec, LevelOneStoresDumpTextWithinAFewPercentOfZstdLevelThree) {
  bench::DumpSpec spec;
  spec.target_bytes = 8 << 20;
  const std::string dump = bench::GenerateDumpString(spec);
  const VolumeKeys keys = Keys(false, 0);
  BlockCodec codec(keys, kDefaultZstdLevel);
  constexpr size_t kChunk = 64 << 10;
  size_t ours = 0, level3 = 0;
  std::string packed(ZSTD_compressBound(kChunk), '\0');
  for (size_t at = 0; at + kChunk <= dump.size(); at += kChunk) {
    const std::string_view chunk = std::string_view(dump).substr(at, kChunk);
    ours += Encode(codec, std::string(chunk)).payload.size();
    level3 += ZSTD_compress(packed.data(), packed.size(), chunk.data(), chunk.size(), 3);
  }
  const double ratio = static_cast<double>(ours) / static_cast<double>(level3);
  EXPECT_LT(ratio, 1.06) << ours << " bytes against zstd -3's " << level3;
  EXPECT_GT(ratio, 0.9) << ours << " bytes against zstd -3's " << level3;
  std::printf("level 1 stores %.3f x zstd -3 (%zu / %zu bytes)\n", ratio, ours, level3);
}

}  // namespace
}  // namespace bv::engine
