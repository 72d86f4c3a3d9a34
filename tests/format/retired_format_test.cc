// DIR/RETIRED (format/retired_format.h): the round trip, version 1 still read, ranges kept apart,
// and every malformed line named.
#include "format/retired_format.h"

#include <gtest/gtest.h>

namespace bv::format {
namespace {

TEST(RetiredFormat, RoundTripsRanges) {
  const std::vector<SegmentRange> ranges{{1, 17}, {19, 19}, {21, 40}, {(uint64_t{1} << 63) - 1, (uint64_t{1} << 63) - 1}};
  const std::string text = EncodeRetired(ranges);
  EXPECT_EQ(text, "BVRETIRED 2\n1-17\n19\n21-40\n9223372036854775807\n");
  auto back = DecodeRetired(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, ranges);
  auto none = DecodeRetired(EncodeRetired({}));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(RetiredFormat, VersionOneIsReadAsRanges) {
  auto back = DecodeRetired("BVRETIRED 1\n7\n3\n5\n4\n12\n");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, (std::vector<SegmentRange>{{3, 5}, {7, 7}, {12, 12}}));
}

TEST(RetiredFormat, AddingNumbersMergesRanges) {
  std::vector<SegmentRange> r = AddToRanges({}, {5, 3, 9});
  EXPECT_EQ(r, (std::vector<SegmentRange>{{3, 3}, {5, 5}, {9, 9}}));
  r = AddToRanges(r, {4, 6, 7, 8});
  EXPECT_EQ(r, (std::vector<SegmentRange>{{3, 9}}));
  r = AddToRanges(r, {5, 11});  // one already in
  EXPECT_EQ(r, (std::vector<SegmentRange>{{3, 9}, {11, 11}}));
  for (uint64_t n : {3, 5, 9, 11}) EXPECT_TRUE(RangesContain(r, n)) << n;
  for (uint64_t n : {1, 2, 10, 12, 1000}) EXPECT_FALSE(RangesContain(r, n)) << n;
  EXPECT_FALSE(RangesContain({}, 1));
}

TEST(RetiredFormat, BadLinesAreNamed) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "line 1"},
      {"BVRETIRED 3\n", "line 1"},
      {"BVRETIRED 2\n5", "line 2: no end of line"},
      {"BVRETIRED 2\n5\n\n", "line 3: not a segment number"},
      {"BVRETIRED 2\n05\n", "line 2: not a segment number"},
      {"BVRETIRED 2\n0\n", "line 2: not a segment number"},
      {"BVRETIRED 2\n1x\n", "line 2: not a segment number"},
      {"BVRETIRED 2\n-1\n", "line 2: not a segment number"},
      {"BVRETIRED 2\n1-\n", "line 2: not a segment number"},
      {"BVRETIRED 2\n1-2-3\n", "line 2: not a segment number"},
      {"BVRETIRED 2\n9223372036854775808\n", "line 2: segment number out of range"},
      {"BVRETIRED 2\n5-5\n", "line 2: range 5-5 does not ascend"},
      {"BVRETIRED 2\n6-4\n", "line 2: range 6-4 does not ascend"},
      {"BVRETIRED 2\n4\n4\n", "line 3: range 4 does not start above"},
      {"BVRETIRED 2\n1-4\n5\n", "line 3: range 5 does not start above"},  // touches: one range
      {"BVRETIRED 2\n9\n3\n", "line 3: range 3 does not start above"},
      {"BVRETIRED 1\n4\n4\n", "line 3: segment 4 twice"},
      {"BVRETIRED 1\n1-2\n", "line 2: not a segment number"},
  };
  for (const auto& [text, what] : cases) {
    auto r = DecodeRetired(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find(what), std::string::npos) << text << " → " << r.status().message();
  }
}

}  // namespace
}  // namespace bv::format
