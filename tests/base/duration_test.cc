// Durations in the configuration (base/duration.h): units summed, bare seconds, a bound, and
// errors that say what is wrong.
#include "base/duration.h"

#include <gtest/gtest.h>

namespace bv {
namespace {

TEST(DurationTest, UnitsAddUp) {
  struct Case {
    const char* text;
    uint64_t seconds;
  };
  for (const Case& c : std::vector<Case>{{"90s", 90}, {"10m", 600}, {"2h30m", 9000}, {"1d", 86400}, {"2w", 1209600},
                                         {"1w2d3h4m5s", 788645}, {"45", 45}, {"0s", 0}}) {
    auto r = ParseSeconds(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().ToString();
    EXPECT_EQ(*r, c.seconds) << c.text;
  }
}

TEST(DurationTest, FormatReadsBack) {
  for (uint64_t s : std::vector<uint64_t>{0, 1, 59, 60, 3661, 86400, 788645, kDurationSecondsMax}) {
    auto r = ParseSeconds(FormatSeconds(s));
    ASSERT_TRUE(r.ok()) << FormatSeconds(s);
    EXPECT_EQ(*r, s);
  }
  EXPECT_EQ(FormatSeconds(9000), "2h30m");
}

TEST(DurationTest, BadTextSaysWhy) {
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case& c : std::vector<Case>{{"", "is empty"},
                                         {"10x", "'x' is not a unit"},
                                         {"h", "'h' where a number belongs"},
                                         {"1h30", "the last number has no unit"},
                                         {"-5m", "'-' where a number belongs"},
                                         {"11y", "'y' is not a unit"},
                                         {"4000d", "longer than ten years"},
                                         {"99999999999999999999s", "longer than ten years"}}) {
    auto r = ParseSeconds(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.status().message().find(c.says), std::string::npos) << c.text << ": " << r.status().message();
  }
}

}  // namespace
}  // namespace bv
