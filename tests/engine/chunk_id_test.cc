// Keyed chunk ids: the two algorithms.
#include "engine/chunk_id.h"

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace bv::engine {
namespace {

using test::GetString;
using test::PutString;
using test::RandomBytes;
using test::TestVolume;

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
