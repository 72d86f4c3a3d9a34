// DIR/RETIRED (format/retired_format.h): the round trip, and every malformed line named.
#include "format/retired_format.h"

#include <gtest/gtest.h>

namespace bv::format {
namespace {

TEST(RetiredFormat, RoundTripsInTheOrderWritten) {
  const std::vector<uint64_t> removed{7, 3, 12, (uint64_t{1} << 63) - 1};
  const std::string text = EncodeRetired(removed);
  EXPECT_EQ(text, "BVRETIRED 1\n7\n3\n12\n9223372036854775807\n");
  auto back = DecodeRetired(text);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, removed);
  EXPECT_TRUE(DecodeRetired(EncodeRetired({})).ok());
}

TEST(RetiredFormat, BadLinesAreNamed) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "line 1"},
      {"BVRETIRED 2\n", "line 1"},
      {"BVRETIRED 1\n5", "line 2: no end of line"},
      {"BVRETIRED 1\n5\n\n", "line 3: not a segment number"},
      {"BVRETIRED 1\n05\n", "line 2: not a segment number"},
      {"BVRETIRED 1\n0\n", "line 2: not a segment number"},
      {"BVRETIRED 1\n1x\n", "line 2: not a segment number"},
      {"BVRETIRED 1\n-1\n", "line 2: not a segment number"},
      {"BVRETIRED 1\n9223372036854775808\n", "line 2: segment number out of range"},
      {"BVRETIRED 1\n4\n4\n", "line 3: segment 4 twice"},
  };
  for (const auto& [text, what] : cases) {
    auto r = DecodeRetired(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find(what), std::string::npos) << text << " → " << r.status().message();
  }
}

}  // namespace
}  // namespace bv::format
