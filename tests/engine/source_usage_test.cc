// What df says each source holds (engine/source_usage.h): stored bytes count a chunk once per
// source however many of its snapshots reference it; unique bytes leave out what another source
// references, and come back when that source's snapshots go.
#include "engine/source_usage.h"

#include <gtest/gtest.h>

#include "engine/delete.h"
#include "tests/test_util.h"

namespace bv::engine {
namespace {

using test::PutString;
using test::RandomBytes;
using test::TestVolume;

class SourceUsageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(tv.Init());
    ASSERT_OK_AND_ASSIGN(v, tv.Open());
  }
  std::map<std::string, SourceUsage> Usage() {
    auto u = UsageBySource(v.get());
    EXPECT_TRUE(u.ok()) << u.status().ToString();
    return u.ok() ? *u : std::map<std::string, SourceUsage>{};
  }
  TestVolume tv;
  std::unique_ptr<Volume> v;
};

TEST_F(SourceUsageTest, AChunkCountsOncePerSourceAndIsUniqueOnlyToOneSource) {
  const std::string dump = RandomBytes(3 << 20, 1), other = RandomBytes(2 << 20, 2);
  ASSERT_OK_AND_ASSIGN(auto first, PutString(v.get(), "db/a", dump));
  ASSERT_OK_AND_ASSIGN(auto again, PutString(v.get(), "db/a", dump));
  ASSERT_OK_AND_ASSIGN(auto copy, PutString(v.get(), "db/copy", dump));
  ASSERT_OK_AND_ASSIGN(auto alone, PutString(v.get(), "db/b", other));
  ASSERT_GT(first.new_bytes, dump.size());  // every chunk of it, with its block header
  ASSERT_EQ(again.new_bytes, 0u);
  ASSERT_EQ(copy.new_bytes, 0u);

  auto u = Usage();
  ASSERT_EQ(u.size(), 3u);
  EXPECT_EQ(u["db/a"].snapshots, 2u);
  EXPECT_EQ(u["db/a"].logical_bytes, 2 * dump.size());
  EXPECT_EQ(u["db/a"].stored_bytes, first.new_bytes) << "a chunk two snapshots share counts once";
  EXPECT_EQ(u["db/a"].unique_bytes, 0u) << "db/copy holds every chunk of db/a";
  EXPECT_EQ(u["db/copy"].stored_bytes, first.new_bytes);
  EXPECT_EQ(u["db/copy"].unique_bytes, 0u);
  EXPECT_EQ(u["db/b"].stored_bytes, alone.new_bytes);
  EXPECT_EQ(u["db/b"].unique_bytes, alone.new_bytes);

  ASSERT_OK(DeleteSnapshot(v.get(), copy, "expired"));
  u = Usage();
  EXPECT_EQ(u.count("db/copy"), 0u);
  EXPECT_EQ(u["db/a"].unique_bytes, first.new_bytes) << "with db/copy gone, db/a alone needs its chunks";
}

TEST_F(SourceUsageTest, AChunkSharedInPartIsUniqueOnlyWhereNoOtherSourceHasIt) {
  const std::string common = RandomBytes(2 << 20, 3);
  ASSERT_OK_AND_ASSIGN(auto a, PutString(v.get(), "db/a", common + RandomBytes(1 << 20, 4)));
  ASSERT_OK_AND_ASSIGN(auto b, PutString(v.get(), "db/b", common + RandomBytes(1 << 20, 5)));
  auto u = Usage();
  // Each holds every chunk it wrote and the ones it found; together they hold each chunk once,
  // and what both hold is the stored bytes less the unique ones, the same seen from either side.
  EXPECT_EQ(u["db/a"].stored_bytes, a.new_bytes);
  EXPECT_LT(b.new_bytes, u["db/b"].stored_bytes);
  EXPECT_GT(u["db/a"].unique_bytes, 1u << 20);
  EXPECT_LT(u["db/a"].unique_bytes, u["db/a"].stored_bytes - (1u << 20));
  EXPECT_EQ(u["db/a"].stored_bytes - u["db/a"].unique_bytes, u["db/b"].stored_bytes - u["db/b"].unique_bytes);
  EXPECT_EQ(u["db/a"].unique_bytes + u["db/b"].stored_bytes, a.new_bytes + b.new_bytes);
}

TEST_F(SourceUsageTest, ASmallSourceBesideALargeOneCountsTheSame) {
  // db/small references a few chunks of well over a hundred, so its sizes are looked up one by
  // one; db/big's come from reading all of `chunks` in order.
  ASSERT_OK_AND_ASSIGN(auto big, PutString(v.get(), "db/big", RandomBytes(8 << 20, 10)));
  const std::string small = RandomBytes(100 << 10, 11);
  ASSERT_OK_AND_ASSIGN(auto first, PutString(v.get(), "db/small", small));
  ASSERT_OK(PutString(v.get(), "db/small", small).status());
  ASSERT_OK(PutString(v.get(), "db/twin", small).status());
  auto u = Usage();
  EXPECT_EQ(u["db/big"].stored_bytes, big.new_bytes);
  EXPECT_EQ(u["db/big"].unique_bytes, big.new_bytes);
  EXPECT_EQ(u["db/small"].stored_bytes, first.new_bytes);
  EXPECT_EQ(u["db/small"].unique_bytes, 0u);
  EXPECT_EQ(u["db/twin"].stored_bytes, first.new_bytes);
}

}  // namespace
}  // namespace bv::engine
