// Keyed chunk ids: the two algorithms, pinned to golden values (ids must never change, or a new
// backup would stop deduplicating against an old one), and the batched form.
#include "engine/chunk_id.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "tests/test_util.h"

namespace bv::engine {
namespace {

using test::GetString;
using test::PutString;
using test::RandomBytes;
using test::TestVolume;
using test::CountingKey;
using test::Hex;

// The values come from Python's hmac and hashlib.blake2b(key=..., digest_size=32).
TEST(ChunkId, MatchesGoldenValues) {
  const Key key = CountingKey();
  const std::string data = "BV chunk id, pinned forever";
  EXPECT_EQ(Hex(ChunkId(format::IdAlgo::kHmacSha256, key, data)),
            "f79e09ed8b3b10075f09deffe9e7c1d9799e66abc279183ddd1f49c035e25910");
  EXPECT_EQ(Hex(ChunkId(format::IdAlgo::kBlake2bKeyed, key, data)),
            "beffdbccca8037cd0c25f833dfe45d8f3de455854efd338497d996448e877d72");
  EXPECT_EQ(Hex(ChunkId(format::IdAlgo::kHmacSha256, key, "")),
            "d38b42096d80f45f826b44a9d5607de72496a415d3f4a1a8c88e3bb9da8dc1cb");
  EXPECT_EQ(Hex(ChunkId(format::IdAlgo::kBlake2bKeyed, key, "")),
            "4e51e7a913fc80137da52880fecca175bf81e117d5c68126dc2774033517ea0d");
}

TEST(ChunkId, DependsOnTheKey) {
  Key other = CountingKey();
  other[31] ^= 1;
  for (auto algo : {format::IdAlgo::kHmacSha256, format::IdAlgo::kBlake2bKeyed}) {
    EXPECT_NE(ChunkId(algo, CountingKey(), "abc"), ChunkId(algo, other, "abc"));
  }
}

// The batched form hashes several chunks side by side on a CPU with the SHA extensions: it must
// give what one at a time gives, for any count (a partly filled set of lanes too) and any sizes.
TEST(ChunkId, BatchedIdsEqualOneAtATime) {
  const Key key = CountingKey();
  std::vector<std::string> data;
  for (size_t i = 0; i < 11; i++) data.push_back(RandomBytes(i * 977 + (i % 3 == 0 ? 0 : 64), i + 1));
  for (auto algo : {format::IdAlgo::kHmacSha256, format::IdAlgo::kBlake2bKeyed}) {
    for (size_t n = 0; n <= data.size(); n++) {
      std::vector<std::string_view> chunks(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
      std::vector<format::Id> ids(n);
      ChunkIds(algo, key, chunks, ids);
      for (size_t i = 0; i < n; i++) {
        EXPECT_EQ(ids[i], ChunkId(algo, key, chunks[i])) << "algo " << static_cast<int>(algo) << " n " << n << " i " << i;
      }
    }
  }
}

TEST(ChunkId, Blake2bChunkIdsWork) {
  TestVolume tv;
  engine::InitOptions io;
  io.id_algo = format::IdAlgo::kBlake2bKeyed;
  ASSERT_OK(tv.Init(io));
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  const std::string d = RandomBytes(2 << 20, 5);
  ASSERT_OK_AND_ASSIGN(auto rec, PutString(v.get(), "h/x", d));
  ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), rec.id));
  EXPECT_TRUE(back == d);
  Key key;
  key.fill(1);
  EXPECT_NE(ChunkId(format::IdAlgo::kHmacSha256, key, "abc"), ChunkId(format::IdAlgo::kBlake2bKeyed, key, "abc"));
}

}  // namespace
}  // namespace bv::engine
