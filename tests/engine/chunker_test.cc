#include "engine/chunker.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/test_util.h"

namespace bv::engine {
namespace {

std::vector<size_t> Cuts(const Chunker& c, const std::string& data) {
  std::vector<size_t> cuts;
  size_t pos = 0;
  while (pos < data.size()) {
    pos += c.NextCut(reinterpret_cast<const uint8_t*>(data.data()) + pos, data.size() - pos);
    cuts.push_back(pos);
  }
  return cuts;
}

Key Seed(uint8_t b) {
  Key k;
  k.fill(b);
  return k;
}

TEST(Chunker, SizesStayWithinLimitsAndAverageNearTarget) {
  ChunkSizes sizes;
  Chunker c(sizes, Seed(1));
  const std::string data = test::RandomBytes(32 << 20, 7);
  auto cuts = Cuts(c, data);
  size_t prev = 0;
  for (size_t i = 0; i < cuts.size(); i++) {
    const size_t len = cuts[i] - prev;
    if (i + 1 < cuts.size()) {
      ASSERT_GE(len, sizes.min);
    }
    ASSERT_LE(len, sizes.max);
    prev = cuts[i];
  }
  const double avg = static_cast<double>(data.size()) / static_cast<double>(cuts.size());
  EXPECT_GT(avg, sizes.avg * 0.7);
  EXPECT_LT(avg, sizes.avg * 1.5);
}

TEST(Chunker, BoundariesResyncAfterAnInsertion) {
  Chunker c(ChunkSizes{}, Seed(1));
  const std::string data = test::RandomBytes(8 << 20, 9);
  const std::string shifted = "inserted bytes" + data;
  auto a = Cuts(c, data);
  auto b = Cuts(c, shifted);
  std::set<size_t> a_set(a.begin(), a.end());
  size_t shared = 0;
  for (size_t cut : b) shared += a_set.count(cut - 14);
  EXPECT_GE(shared, a.size() - 3);
}

TEST(Chunker, TheSeedChangesTheBoundaries) {
  const std::string data = test::RandomBytes(4 << 20, 11);
  auto a = Cuts(Chunker(ChunkSizes{}, Seed(1)), data);
  auto b = Cuts(Chunker(ChunkSizes{}, Seed(2)), data);
  EXPECT_NE(a, b);
  EXPECT_EQ(a, Cuts(Chunker(ChunkSizes{}, Seed(1)), data));  // deterministic
}

TEST(Chunker, ShortAndZeroInputs) {
  Chunker c(ChunkSizes{}, Seed(1));
  EXPECT_EQ(Cuts(c, "x"), std::vector<size_t>{1});
  // Constant input has no content to cut on: every chunk is the same length.
  const std::string zeros(4 << 20, '\0');
  auto cuts = Cuts(c, zeros);
  ASSERT_GE(cuts.size(), 2u);
  for (size_t i = 1; i + 1 < cuts.size(); i++) EXPECT_EQ(cuts[i] - cuts[i - 1], cuts[0]);
}

}  // namespace
}  // namespace bv::engine
