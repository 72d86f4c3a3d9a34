// The protocol text bvd and bvtool share (docs/protocol.md §3, §6, §7.1): error codes both ways,
// decimal numbers, hex hashes and session ids; what is accepted and what is refused.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/protocol_text.h"

namespace bv::server {
namespace {

TEST(ErrorCode, EveryStatusHasItsCode) {
  EXPECT_STREQ(ErrorCodeName(Status::Ok()), "ok");
  EXPECT_STREQ(ErrorCodeName(Status::NotFound("x")), "not-found");
  EXPECT_STREQ(ErrorCodeName(Status::Corruption("x")), "corrupt");
  EXPECT_STREQ(ErrorCodeName(Status::InvalidArgument("x")), "bad-request");
  EXPECT_STREQ(ErrorCodeName(Status::IOError("x")), "io");
  EXPECT_STREQ(ErrorCodeName(Status::NotSupported("x")), "not-supported");
  EXPECT_STREQ(ErrorCodeName(Status::Busy("x")), "busy");
  EXPECT_STREQ(ErrorCodeName(Status::NoSpace("x")), "no-space");
  EXPECT_STREQ(ErrorCodeName(Status::Quota("x")), "quota");
  EXPECT_STREQ(ErrorCodeName(Status::TimedOut("x")), "timeout");
}

TEST(ErrorCode, TheCodesAClientActsOnComeBackAsTheirStatus) {
  for (const Status& s : {Status::NotFound("m"), Status::Corruption("m"), Status::InvalidArgument("m"),
                          Status::Busy("m"), Status::NoSpace("m"), Status::Quota("m"), Status::TimedOut("m")}) {
    const Status back = StatusFromErrorCode(ErrorCodeName(s), "m");
    EXPECT_EQ(back.code(), s.code()) << ErrorCodeName(s);
    EXPECT_EQ(back.message(), "m");
  }
}

TEST(ErrorCode, CodesWithoutAStatusOfTheirOwn) {
  EXPECT_EQ(StatusFromErrorCode("shutting-down", "m").code(), Status::Code::kBusy);
  EXPECT_EQ(StatusFromErrorCode("denied", "m").code(), Status::Code::kDenied);
  EXPECT_EQ(StatusFromErrorCode("auth", "m").code(), Status::Code::kInvalidArgument);
  for (const char* code : {"io", "not-supported", "internal", "ok", "", "NOT-FOUND", "not-found "}) {
    EXPECT_EQ(StatusFromErrorCode(code, "m").code(), Status::Code::kIOError) << code;
  }
}

TEST(OneLine, NewlinesBecomeSpaces) {
  EXPECT_EQ(OneLine("a\nb\r\nc"), "a b  c");
  EXPECT_EQ(OneLine(""), "");
  EXPECT_EQ(OneLine("plain"), "plain");
}

TEST(ParseDecimal, AcceptsOneToNineteenDigits) {
  EXPECT_EQ(ParseDecimal("0"), 0u);
  EXPECT_EQ(ParseDecimal("007"), 7u);
  EXPECT_EQ(ParseDecimal("16777216"), 16777216u);
  EXPECT_EQ(ParseDecimal("9999999999999999999"), 9999999999999999999u);
}

TEST(ParseDecimal, RefusesAnythingElse) {
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1x", "0x10", "1.5", "\xef\xbc\x91",  // a full-width one
                          "00000000000000000000",    // 20 digits, too long even as zero
                          "18446744073709551615",    // 2^64-1: 20 digits
                          "18446744073709551616",    // 2^64: would overflow
                          "99999999999999999999999"}) {
    EXPECT_FALSE(ParseDecimal(bad).has_value()) << bad;
  }
}

TEST(HexDigit, BothCasesAndNothingElse) {
  EXPECT_EQ(HexDigitValue('0'), 0);
  EXPECT_EQ(HexDigitValue('9'), 9);
  EXPECT_EQ(HexDigitValue('a'), 10);
  EXPECT_EQ(HexDigitValue('F'), 15);
  for (char c : {'g', 'G', '/', ':', '@', '`', ' ', '\0'}) EXPECT_EQ(HexDigitValue(c), -1) << int(c);
}

TEST(HashHex, RoundTripsLowerCase) {
  StreamHash h;
  for (size_t i = 0; i < h.size(); i++) h[i] = static_cast<uint8_t>(0x0f + 0x11 * i);
  const std::string hex = HashHex(h);
  EXPECT_EQ(hex, "0f2031425364758697a8b9cadbecfd0e");
  EXPECT_EQ(ParseHashHex(hex), h);
  EXPECT_EQ(HashHex(StreamHash{}), std::string(32, '0'));
}

TEST(HashHex, UpperCaseIsAccepted) {
  auto h = ParseHashHex("0F2031425364758697a8B9CADBECFD0E");
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(HashHex(*h), "0f2031425364758697a8b9cadbecfd0e");
}

TEST(HashHex, RefusesBadInput) {
  const std::string good = "0f203142536475869708192a3b4c5d6e";
  const std::vector<std::string> bads = {
      "", good.substr(0, 31), good.substr(0, 30), good + "0", good + "00",  // odd lengths, short and long
      "0g203142536475869708192a3b4c5d6e", "0f20314253647586970819 a3b4c5d6e",
      std::string("0f203142536475869708192a3b4c5d6\0", 32)};
  for (const std::string& bad : bads) {
    EXPECT_FALSE(ParseHashHex(bad).has_value()) << bad;
  }
}

TEST(SessionId, SixteenLowerCaseDigits) {
  EXPECT_EQ(ParseSessionId("0123456789abcdef"), 0x0123456789abcdefu);
  EXPECT_EQ(ParseSessionId("ffffffffffffffff"), UINT64_MAX);
  EXPECT_EQ(ParseSessionId("0000000000000001"), 1u);
  EXPECT_EQ(ParseSessionId(format::SnapshotIdHex(0x8000000000000000u)), 0x8000000000000000u);
}

TEST(SessionId, RefusesBadInput) {
  for (const char* bad : {"", "0123456789abcde", "0123456789abcdef0", "123456789abcdef",  // length, odd too
                          "0123456789ABCDEF", "0123456789abcdeF",                          // upper case
                          "0123456789abcdeg", "0123456789abcde ", "-123456789abcdef",
                          "0000000000000000"}) {                                           // zero is no session
    EXPECT_FALSE(ParseSessionId(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace bv::server
