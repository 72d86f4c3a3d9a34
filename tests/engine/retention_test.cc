// Retention rules on hand-picked times (the comparison with restic itself is
// tests/engine/retention_restic_test.py): buckets across a year's end, ISO week 53, leap days,
// equal times, Go's calendar arithmetic for months, and the guards.
#include "engine/retention.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/time_format.h"
#include "tests/test_util.h"

namespace bv::engine {
namespace {

int64_t At(const std::string& text) {
  auto t = ParseTime(text);
  EXPECT_TRUE(t.ok()) << text;
  return t.ok() ? *t : 0;
}

KeepDuration Within(const std::string& text) {
  auto d = ParseKeepDuration(text);
  EXPECT_TRUE(d.ok()) << text;
  return d.ok() ? *d : KeepDuration{};
}

const int64_t kNow = At("2030-01-01T00:00:00Z");

std::vector<SnapshotTime> Times(const std::vector<std::string>& texts) {
  std::vector<SnapshotTime> out;
  for (const std::string& t : texts) out.push_back(SnapshotTime{out.size() + 1, At(t)});
  return out;
}

// The kept times, newest first, as text.
std::vector<std::string> Kept(const std::vector<std::string>& texts, const RetentionPolicy& p, int64_t now = kNow) {
  auto decisions = ApplyRetention(Times(texts), p, now);
  EXPECT_TRUE(decisions.ok()) << decisions.status().ToString();
  std::vector<std::string> kept;
  if (!decisions.ok()) return kept;
  for (const RetentionDecision& d : *decisions) {
    if (d.keep) kept.push_back(FormatTime(d.time_us));
  }
  return kept;
}

using Strings = std::vector<std::string>;

TEST(Retention, DailyKeepsTheNewestOfEachDayInUtc) {
  RetentionPolicy p;
  p.daily = 2;
  EXPECT_EQ(Kept({"2026-03-01T01:00Z", "2026-03-01T23:59Z", "2026-03-02T00:00Z", "2026-03-02T12:00Z",
                  "2026-03-03T00:30+02:00"},
                 p),
            (Strings{"2026-03-02T22:30:00Z", "2026-03-01T23:59:00Z"}));
}

TEST(Retention, YearlyAndMonthlyBucketsCrossTheYearsEnd) {
  RetentionPolicy p;
  p.monthly = 2;
  p.yearly = 2;
  EXPECT_EQ(Kept({"2025-12-31T23:00Z", "2025-12-01T00:00Z", "2026-01-01T00:00Z", "2024-06-01T00:00Z"}, p),
            (Strings{"2026-01-01T00:00:00Z", "2025-12-31T23:00:00Z"}));
  p.yearly = 3;
  EXPECT_EQ(Kept({"2025-12-31T23:00Z", "2025-12-01T00:00Z", "2026-01-01T00:00Z", "2024-06-01T00:00Z"}, p),
            (Strings{"2026-01-01T00:00:00Z", "2025-12-31T23:00:00Z", "2024-06-01T00:00:00Z"}));
}

TEST(Retention, WeeksAreIsoWeeksWithWeek53) {
  RetentionPolicy p;
  p.weekly = 3;
  // 2020-12-31 (Thursday) and 2021-01-03 (Sunday) are both in ISO week 2020-W53; 2021-01-04 starts
  // 2021-W01; 2020-12-27 (Sunday) ends 2020-W52.
  EXPECT_EQ(Kept({"2020-12-27T12:00Z", "2020-12-31T12:00Z", "2021-01-03T12:00Z", "2021-01-04T00:00Z"}, p),
            (Strings{"2021-01-04T00:00:00Z", "2021-01-03T12:00:00Z", "2020-12-27T12:00:00Z"}));
  // 2024-12-30 (Monday) is already 2025-W01, with 2025-01-05.
  EXPECT_EQ(Kept({"2024-12-29T00:00Z", "2024-12-30T00:00Z", "2025-01-05T00:00Z"}, p),
            (Strings{"2025-01-05T00:00:00Z", "2024-12-29T00:00:00Z"}));
}

TEST(Retention, WithinCountsCalendarMonthsBackLikeGo) {
  RetentionPolicy p;
  p.within = Within("1m");
  // 2024-03-31 less a month is "2024-02-31", which is 2024-03-02 (a leap year): strictly after it.
  EXPECT_EQ(Kept({"2024-03-31T00:00Z", "2024-03-02T00:00Z", "2024-03-02T00:00:01Z", "2024-02-29T00:00Z"}, p),
            (Strings{"2024-03-31T00:00:00Z", "2024-03-02T00:00:01Z"}));
  // A leap day less a year is 2023-03-01.
  p.within = Within("1y");
  EXPECT_EQ(Kept({"2024-02-29T00:00Z", "2023-03-01T00:00Z", "2023-03-01T00:00:01Z"}, p),
            (Strings{"2024-02-29T00:00:00Z", "2023-03-01T00:00:01Z"}));
}

TEST(Retention, WithinBucketsKeepTheNewestOfEachBucketInTheWindow) {
  RetentionPolicy p;
  p.within_daily = Within("2d");
  EXPECT_EQ(Kept({"2026-05-10T20:00Z", "2026-05-10T08:00Z", "2026-05-09T23:00Z", "2026-05-08T21:00Z",
                  "2026-05-08T19:00Z"},
                 p),
            (Strings{"2026-05-10T20:00:00Z", "2026-05-09T23:00:00Z", "2026-05-08T21:00:00Z"}));
}

TEST(Retention, TheNewestForWithinIsTheNewestNotInTheFuture) {
  RetentionPolicy p;
  p.within = Within("1d");
  const int64_t now = At("2026-05-10T00:00Z");
  // 2027 is in the future: the window is a day before 2026-05-09T12:00.
  EXPECT_EQ(Kept({"2027-01-01T00:00Z", "2026-05-09T12:00Z", "2026-05-08T13:00Z", "2026-05-08T11:00Z"}, p, now),
            (Strings{"2027-01-01T00:00:00Z", "2026-05-09T12:00:00Z", "2026-05-08T13:00:00Z"}));
}

TEST(Retention, EqualTimesFillOneBucketAndLastCountsEach) {
  RetentionPolicy p;
  p.daily = 5;
  const Strings same{"2026-01-01T00:00Z", "2026-01-01T00:00Z", "2026-01-01T00:00Z"};
  auto d = ApplyRetention(Times(same), p, kNow);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE((*d)[0].keep);
  EXPECT_EQ((*d)[0].id, 1u);  // equal times stay in the order given
  EXPECT_FALSE((*d)[1].keep);
  EXPECT_FALSE((*d)[2].keep);
  p = RetentionPolicy{};
  p.last = 2;
  EXPECT_EQ(Kept(same, p).size(), 2u);
}

TEST(Retention, RulesCombineAndEachReasonIsSaid) {
  RetentionPolicy p;
  p.last = 1;
  p.daily = 2;
  p.within = Within("1h");
  auto d = ApplyRetention(Times({"2026-02-02T10:00Z", "2026-02-02T09:30Z", "2026-02-01T10:00Z", "2026-01-31T10:00Z"}),
                          p, kNow);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ((*d)[0].reasons, (Strings{"within 1h", "last snapshot", "daily snapshot"}));
  EXPECT_EQ((*d)[1].reasons, (Strings{"within 1h"}));
  EXPECT_EQ((*d)[2].reasons, (Strings{"daily snapshot"}));
  EXPECT_FALSE((*d)[3].keep);
  EXPECT_TRUE((*d)[3].reasons.empty());
}

TEST(Retention, MinKeepHoldsTheNewestOfThoseThePolicyLetsGo) {
  RetentionPolicy p;
  p.yearly = 1;
  p.min_keep = 3;
  auto d = ApplyRetention(Times({"2026-03-01T00:00Z", "2026-02-01T00:00Z", "2026-01-01T00:00Z", "2025-01-01T00:00Z"}),
                          p, kNow);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE((*d)[0].keep && (*d)[1].keep && (*d)[2].keep);
  EXPECT_EQ((*d)[1].reasons, (Strings{"min_keep 3"}));
  EXPECT_FALSE((*d)[3].keep);
}

TEST(Retention, APolicyThatKeepsNothingIsRefused) {
  RetentionPolicy p;
  auto d = ApplyRetention(Times({"2026-03-01T00:00Z"}), p, kNow);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("no keep rule"), std::string::npos) << d.status().ToString();
  p.daily = -1;
  EXPECT_FALSE(ApplyRetention(Times({"2026-03-01T00:00Z"}), p, kNow).ok());
  p.daily = 1;
  p.min_keep = 0;
  EXPECT_FALSE(ApplyRetention(Times({"2026-03-01T00:00Z"}), p, kNow).ok());
}

TEST(Retention, DurationsParseAndBadOnesSayWhy) {
  ASSERT_OK_AND_ASSIGN(KeepDuration d, ParseKeepDuration("2w3d"));
  EXPECT_EQ(d.days, 17);
  ASSERT_OK_AND_ASSIGN(d, ParseKeepDuration("1y6m12h"));
  EXPECT_EQ(d.ToString(), "1y6m12h");
  for (const char* bad : {"", "d", "30", "3x", "1d2d", "-1d", "1000000d", "20000y", "99999w", "14286w1d"}) {
    auto r = ParseKeepDuration(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("duration '"), std::string::npos) << r.status().ToString();
  }
}

TEST(Retention, RulesSetByNameRefuseWhatIsNoCount) {
  RetentionPolicy p;
  EXPECT_TRUE(SetRetentionRule(&p, RetentionRuleOfKey("keep_daily"), "7").ok());
  EXPECT_EQ(p.daily, 7);
  EXPECT_TRUE(SetRetentionRule(&p, RetentionRuleOfKey("keep_within_daily"), "2w").ok());
  EXPECT_EQ(p.within_daily.days, 14);
  EXPECT_TRUE(SetRetentionRule(&p, RetentionRuleOfKey("min_keep"), "3").ok());
  EXPECT_EQ(p.min_keep, 3);
  // A long number (the fuzzer's find: it overflowed while being read) and the rest are refused.
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"keep_daily", "20660282667901233890"}, {"keep_daily", "-1"}, {"keep_daily", ""}, {"keep_daily", "7d"},
           {"keep_daily", "1000001"}, {"min_keep", "0"}, {"keep_within", "7"}, {"keep_sometimes", "1"}, {"daily", "1"}}) {
    EXPECT_FALSE(SetRetentionRule(&p, RetentionRuleOfKey(key), value).ok()) << key << "=" << value;
  }
  EXPECT_EQ(p.daily, 7);
}

}  // namespace
}  // namespace bv::engine
