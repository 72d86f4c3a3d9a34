// Verify cursors (format/verify_cursor_format.h): round trip, the committed seed as a golden
// vector, every other length refused, an unknown version and negative times named.
#include "format/verify_cursor_format.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/test_util.h"

namespace bv::format {
namespace {

VerifyCursor Sample() {
  VerifyCursor c;
  c.next_segment = 42;
  c.pass_start_us = 1796000000000000;
  c.passes = 3;
  c.last_pass_end_us = 1795900000000000;
  c.pass_bytes = 123456789;
  return c;
}

TEST(VerifyCursorFormatTest, RoundTripAndGoldenSeed) {
  const std::string bytes = EncodeVerifyCursor(Sample());
  ASSERT_EQ(bytes.size(), kVerifyCursorSize);
  ASSERT_OK_AND_ASSIGN(VerifyCursor back, DecodeVerifyCursor(bytes));
  EXPECT_EQ(back, Sample());
  std::ifstream seed(std::string(BV_SOURCE_DIR) + "/fuzz/corpus/verify_cursor/midpass", std::ios::binary);
  std::stringstream golden;
  golden << seed.rdbuf();
  EXPECT_EQ(golden.str(), bytes) << "the layout changed: bump kVerifyCursorVersion";
  ASSERT_OK_AND_ASSIGN(back, DecodeVerifyCursor(EncodeVerifyCursor(VerifyCursor())));
  EXPECT_EQ(back, VerifyCursor());
}

TEST(VerifyCursorFormatTest, OtherLengthsVersionsAndNegativeTimesAreRefused) {
  const std::string bytes = EncodeVerifyCursor(Sample());
  for (size_t n = 0; n < bytes.size(); n++) {
    EXPECT_FALSE(DecodeVerifyCursor(bytes.substr(0, n)).ok()) << n;
  }
  EXPECT_FALSE(DecodeVerifyCursor(bytes + '\0').ok());
  std::string v2 = bytes;
  v2[0] = 2;
  auto r = DecodeVerifyCursor(v2);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown version 2"), std::string::npos) << r.status().message();
  std::string negative = bytes;
  negative[16] = '\x80';  // the top byte of pass_start_us
  r = DecodeVerifyCursor(negative);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("byte 9"), std::string::npos) << r.status().message();
  negative = bytes;
  negative[32] = '\x80';  // the top byte of last_pass_end_us
  r = DecodeVerifyCursor(negative);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("byte 25"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace bv::format
