// The RocksDB index: point-in-time lookups against a model.
#include "engine/index.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "tests/test_util.h"

namespace bv::engine {
namespace {

using test::PutString;
using test::RandomBytes;
using test::TestVolume;

TEST(Index, PointInTimeAcrossSourcesMatchesAModel) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  std::map<std::string, std::map<int64_t, uint64_t>> model;
  std::mt19937_64 rng(42);
  const std::vector<std::string> sources = {"pg/orders", "pg/users", "mongo/app"};
  for (int i = 0; i < 60; i++) {
    const std::string& src = sources[rng() % sources.size()];
    const int64_t t = 1764547200000000 + static_cast<int64_t>(rng() % (30ull * 86400)) * 1000000;
    if (model[src].count(t)) continue;
    ASSERT_OK_AND_ASSIGN(auto rec, PutString(v.get(), src, RandomBytes(1000 + rng() % 5000, rng()), t));
    model[src][t] = rec.id;
  }
  for (int q = 0; q < 500; q++) {
    const std::string& src = sources[rng() % sources.size()];
    const int64_t t = 1764547200000000 + static_cast<int64_t>(rng() % (32ull * 86400)) * 1000000 - 86400000000;
    auto it = model[src].upper_bound(t);
    std::optional<uint64_t> want;
    if (it != model[src].begin()) want = std::prev(it)->second;
    ASSERT_OK_AND_ASSIGN(auto got, v->index()->FindAsOf(src, t));
    ASSERT_EQ(got, want) << src << " at " << t;
  }
  // Listing one source is newest first and complete.
  std::vector<int64_t> times;
  ASSERT_OK(v->index()->ForEachSnapshot("pg/orders", [&](const SnapshotEntry& e) {
    times.push_back(e.record.time_us);
    return true;
  }));
  ASSERT_EQ(times.size(), model["pg/orders"].size());
  EXPECT_TRUE(std::is_sorted(times.rbegin(), times.rend()));
}

}  // namespace
}  // namespace bv::engine
