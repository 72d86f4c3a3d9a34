#include "engine/chunker.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <bit>

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

// Cut points are part of what a volume stores (recipes name the chunks they make), so the chunker
// must cut exactly where the plain byte-at-a-time gear loop cuts, whatever its implementation.
size_t ReferenceCut(const std::array<uint64_t, 256>& gear, const ChunkSizes& s, uint64_t mask_small,
                    uint64_t mask_large, const uint8_t* data, size_t n) {
  if (n <= s.min) return n;
  const size_t normal = std::min<size_t>(s.avg, n), end = std::min<size_t>(s.max, n);
  uint64_t fp = 0;
  size_t i = s.min;
  for (; i < normal; i++) {
    fp = (fp << 1) + gear[data[i]];
    if ((fp & mask_small) == 0) return i + 1;
  }
  for (; i < end; i++) {
    fp = (fp << 1) + gear[data[i]];
    if ((fp & mask_large) == 0) return i + 1;
  }
  return end;
}

TEST(Chunker, CutsExactlyWhereTheByteAtATimeLoopCuts) {
  for (const ChunkSizes sizes : {ChunkSizes{}, ChunkSizes{64, 256, 1024}, ChunkSizes{63, 128, 509}, ChunkSizes{1 << 20, 2 << 20, 4 << 20}}) {
    const Key seed = Seed(7);
    Chunker c(sizes, seed);
    // The same table and masks as the chunker's (chunker.cc): the seed's deterministic bytes.
    uint8_t bytes[256 * 8];
    randombytes_buf_deterministic(bytes, sizeof bytes, seed.data());
    std::array<uint64_t, 256> gear;
    for (size_t i = 0; i < 256; i++) {
      uint64_t v = 0;
      for (int b = 0; b < 8; b++) v |= uint64_t{bytes[i * 8 + b]} << (8 * b);
      gear[i] = v;
    }
    const int bits = std::countr_zero(sizes.avg);
    const uint64_t small = ~uint64_t{0} << (64 - (bits + 2)), large = ~uint64_t{0} << (64 - (bits - 2));
    for (uint64_t k = 0; k < 6; k++) {
      const std::string data = test::RandomBytes((size_t{9} << 20) + k * 13, 100 + k);
      const auto* p = reinterpret_cast<const uint8_t*>(data.data());
      size_t pos = 0, cuts = 0;
      while (pos < data.size()) {
        const size_t want = ReferenceCut(gear, sizes, small, large, p + pos, data.size() - pos);
        const size_t got = c.NextCut(p + pos, data.size() - pos);
        ASSERT_EQ(got, want) << "at " << pos << " (cut " << cuts << "), min " << sizes.min;
        pos += got;
        cuts++;
      }
    }
  }
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

TEST(Chunker, TheDefaultMinimumIsHalfTheAverage) {
  constexpr ChunkSizes d;
  static_assert(ChunkSizes::ForAverage(d.avg).min == d.min && ChunkSizes::ForAverage(d.avg).max == d.max);
  EXPECT_EQ(d.min, 32u << 10);
  EXPECT_EQ(ChunkSizes::ForAverage(1 << 20).min, 512u << 10);
  EXPECT_EQ(ChunkSizes::ForAverage(1 << 20).max, 4u << 20);
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
