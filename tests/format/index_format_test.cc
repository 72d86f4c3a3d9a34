// [IDX-1] The index's keys and values (format/index_format.h, docs/format-spec.md §7): round trips on
// minimum, maximum and random values, every truncation refused, key order as the spec says, and a
// golden byte vector for each.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "format/index_format.h"

namespace bv::format {
namespace {

std::string Hex(std::string_view s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

TEST(IndexFormat, GoldenBytes) {
  EXPECT_EQ(Hex(EncodeLocation({1, 4096, 10, 20})),
            "0100000000000000" "0010000000000000" "0a000000" "14000000");
  EXPECT_EQ(Hex(EncodeSegmentState({true, 8192, 3})), "01" "0020000000000000" "0300000000000000");
  EXPECT_EQ(Hex(EncodeSegmentState({true, 8192, 3, true})), "02" "0020000000000000" "0300000000000000");
  EXPECT_EQ(Hex(U64Key(0x0102030405060708)), "0102030405060708");
  EXPECT_EQ(Hex(SegOffKey(2, 4096)), "0000000000000002" "0000000000001000");
  EXPECT_EQ(Hex(EncodeRecipeKey({7, 1, 2})), "0000000000000007" "0001" "00000002");
  // time 0 inverts to 0x7fff…ff: newer times sort first.
  EXPECT_EQ(Hex(BySourceKey("pg", 0, 9)), "7067" "00" "7fffffffffffffff" "0000000000000009");
}

TEST(IndexFormat, NewerSnapshotsOfASourceSortFirst) {
  EXPECT_LT(BySourceKey("a", 200, 1), BySourceKey("a", 100, 2));
  EXPECT_LT(BySourceKey("a", 1, 1), BySourceKey("a", -1, 1));
  EXPECT_LT(BySourceKey("a", INT64_MAX, 1), BySourceKey("a", INT64_MIN, 1));
  EXPECT_LT(BySourceKey("a", 0, 1), BySourceKey("ab", 999, 1));  // the 0x00 separator ends a source
  EXPECT_LT(SegOffKey(1, UINT64_MAX), SegOffKey(2, 0));
}

TEST(IndexFormat, EveryTruncationAndExtensionIsRefused) {
  const std::string loc = EncodeLocation({3, 5, 7, 9});
  const std::string state = EncodeSegmentState({false, 1, 2});
  const std::string recipe = EncodeRecipeKey({1, 2, 3});
  for (size_t n = 0; n < loc.size(); n++) EXPECT_FALSE(DecodeLocation(loc.substr(0, n)).ok()) << n;
  for (size_t n = 0; n < state.size(); n++) EXPECT_FALSE(DecodeSegmentState(state.substr(0, n)).ok()) << n;
  for (size_t n = 0; n < recipe.size(); n++) EXPECT_FALSE(DecodeRecipeKey(recipe.substr(0, n)).ok()) << n;
  EXPECT_FALSE(DecodeLocation(loc + "x").ok());
  EXPECT_FALSE(DecodeSegmentState(state + "x").ok());
  EXPECT_FALSE(DecodeU64Key("1234567").ok());
  EXPECT_FALSE(DecodeSegOffKey(std::string(15, '\0')).ok());
  EXPECT_FALSE(DecodeIdKey(std::string(31, '\1')).ok());
  const std::string by = BySourceKey("src", 5, 6);
  for (size_t n = 0; n < by.size(); n++) EXPECT_FALSE(DecodeBySourceKey(by.substr(0, n)).ok()) << n;
}

TEST(IndexFormat, FieldsOutOfRangeAreRefused) {
  std::string state = EncodeSegmentState({true, 1, 2});
  state[0] = 2;
  auto retired = DecodeSegmentState(state);
  ASSERT_TRUE(retired.ok());
  EXPECT_TRUE(retired->sealed && retired->retired);
  state[0] = 3;
  EXPECT_FALSE(DecodeSegmentState(state).ok());
  EXPECT_FALSE(DecodeLocation(EncodeLocation({0, 4096, 1, 1})).ok());                     // segment 0
  EXPECT_FALSE(DecodeLocation(EncodeLocation({1, 4096, kBlockPayloadMax + 1, 1})).ok());  // too large
  EXPECT_FALSE(DecodeBySourceKey(std::string("\0", 1) + std::string(16, 'x')).ok());       // empty source
}

RC_GTEST_PROP(IndexFormatProp, LocationsRoundTrip, (uint64_t segment, uint64_t offset, uint32_t stored, uint32_t raw)) {
  const Location l{segment | 1, offset, stored % (kBlockPayloadMax + 1), raw % (kBlockPayloadMax + 1)};
  auto d = DecodeLocation(EncodeLocation(l));
  RC_ASSERT(d.ok());
  RC_ASSERT(*d == l);
}

RC_GTEST_PROP(IndexFormatProp, KeysRoundTrip, (uint64_t a, uint64_t b, uint16_t stream, uint32_t piece, int64_t t)) {
  auto so = DecodeSegOffKey(SegOffKey(a, b));
  RC_ASSERT(so.ok() && so->first == a && so->second == b);
  auto rk = DecodeRecipeKey(EncodeRecipeKey({a, stream, piece}));
  RC_ASSERT(rk.ok() && rk->snapshot == a && rk->stream == stream && rk->piece == piece);
  auto bs = DecodeBySourceKey(BySourceKey("pg/orders", t, b));
  RC_ASSERT(bs.ok() && bs->source == "pg/orders" && bs->time_us == t && bs->id == b);
  auto u = DecodeU64Key(U64Key(a));
  RC_ASSERT(u.ok() && *u == a);
}

}  // namespace
}  // namespace bv::format
