// Cron schedules (jobs/cron_schedule.h): next-run times equal to python3-croniter's for generated
// expressions and start times, a table of known expansions, wall-clock times across DST changes
// in named zones, and errors that say which field is wrong.
#include "jobs/cron_schedule.h"

#include <date/date.h>
#include <date/tz.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "tests/test_util.h"

namespace bv::jobs {
namespace {

using std::chrono::seconds;

Seconds Utc(const std::string& text) {
  int y = 0;
  unsigned mo = 0, d = 0, h = 0, mi = 0, s = 0;
  EXPECT_EQ(std::sscanf(text.c_str(), "%d-%u-%uT%u:%u:%uZ", &y, &mo, &d, &h, &mi, &s), 6) << text;
  return date::sys_days(date::year{y} / date::month{mo} / date::day{d}) + std::chrono::hours{h} +
         std::chrono::minutes{mi} + seconds{s};
}

std::string Text(Seconds t) { return date::format("%Y-%m-%dT%H:%M:%SZ", t); }

const date::time_zone* Zone(const std::string& name) {
  auto z = FindZone(name);
  EXPECT_TRUE(z.ok()) << z.status().ToString();
  return z.ok() ? *z : nullptr;
}

// The next `count` runs after `after`, as text.
std::vector<std::string> Runs(const std::string& expr, const std::string& after, int count,
                              const std::string& zone = "UTC") {
  auto c = CronSchedule::Parse(expr);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  std::vector<std::string> out;
  if (!c.ok()) return out;
  Seconds t = Utc(after);
  for (int i = 0; i < count; i++) {
    t = c->Next(t, Zone(zone));
    out.push_back(Text(t));
  }
  return out;
}

using Texts = std::vector<std::string>;

TEST(CronScheduleTest, KnownExpansions) {
  EXPECT_EQ(Runs("0 3 * * *", "2026-12-07T02:59:59Z", 2), (Texts{"2026-12-07T03:00:00Z", "2026-12-08T03:00:00Z"}));
  EXPECT_EQ(Runs("0 3 * * *", "2026-12-07T03:00:00Z", 1), (Texts{"2026-12-08T03:00:00Z"})) << "strictly after";
  EXPECT_EQ(Runs("*/20 * * * *", "2026-12-07T10:05:00Z", 3),
            (Texts{"2026-12-07T10:20:00Z", "2026-12-07T10:40:00Z", "2026-12-07T11:00:00Z"}));
  EXPECT_EQ(Runs("@hourly", "2026-12-31T23:30:00Z", 1), (Texts{"2027-01-01T00:00:00Z"}));
  EXPECT_EQ(Runs("@weekly", "2026-12-07T00:00:00Z", 1), (Texts{"2026-12-13T00:00:00Z"})) << "Sundays";
  EXPECT_EQ(Runs("@monthly", "2026-12-07T00:00:00Z", 1), (Texts{"2027-01-01T00:00:00Z"}));
  EXPECT_EQ(Runs("@yearly", "2026-12-07T00:00:00Z", 1), Runs("@annually", "2026-12-07T00:00:00Z", 1));
  EXPECT_EQ(Runs("0 0 29 2 *", "2026-03-01T00:00:00Z", 1), (Texts{"2028-02-29T00:00:00Z"})) << "a leap day";
  // Both day fields restricted: either matches. The 13th of 2026-12 is a Sunday, the 11th a Friday.
  EXPECT_EQ(Runs("0 0 13 * 5", "2026-12-07T00:00:00Z", 2), (Texts{"2026-12-11T00:00:00Z", "2026-12-13T00:00:00Z"}));
  // One restricted, the other `*`: that one alone decides.
  EXPECT_EQ(Runs("0 0 * * fri", "2026-12-07T00:00:00Z", 1), (Texts{"2026-12-11T00:00:00Z"}));
  EXPECT_EQ(Runs("0 0 * * 7", "2026-12-07T00:00:00Z", 1), Runs("0 0 * * SUN", "2026-12-07T00:00:00Z", 1));
  EXPECT_EQ(Runs("30 4 1,15 jan-mar *", "2026-12-07T00:00:00Z", 3),
            (Texts{"2027-01-01T04:30:00Z", "2027-01-15T04:30:00Z", "2027-02-01T04:30:00Z"}));
  EXPECT_EQ(Runs("0 22 * * 1-5", "2026-12-11T23:00:00Z", 1), (Texts{"2026-12-14T22:00:00Z"})) << "Friday to Monday";
  EXPECT_EQ(Runs("0 0 31 * *", "2027-01-31T00:00:00Z", 1), (Texts{"2027-03-31T00:00:00Z"})) << "months without a 31st";
}

TEST(CronScheduleTest, WallClockTimesAcrossDaylightSavingChanges) {
  // Berlin: 2026-03-29 02:00 CET becomes 03:00 CEST; 2026-10-25 03:00 CEST becomes 02:00 CET.
  EXPECT_EQ(Runs("30 2 * * *", "2026-03-28T00:00:00Z", 3, "Europe/Berlin"),
            (Texts{"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}))
      << "02:30 does not exist on the 29th: it runs as the clocks change";
  EXPECT_EQ(Runs("30 2 * * *", "2026-10-24T00:00:00Z", 3, "Europe/Berlin"),
            (Texts{"2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}))
      << "02:30 happens twice on the 25th: it runs once, at the first";
  EXPECT_EQ(Runs("0 * * * *", "2026-10-24T23:30:00Z", 3, "Europe/Berlin"),
            (Texts{"2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z", "2026-10-25T03:00:00Z"}))
      << "the repeated hour's 02:00 CET is not run again";
  // From inside the repeated hour's second pass, the next run is after it, not before.
  EXPECT_EQ(Runs("45 2 * * *", "2026-10-25T01:10:00Z", 1, "Europe/Berlin"), (Texts{"2026-10-26T01:45:00Z"}));
  // New York, 2026-03-08: 02:00 EST becomes 03:00 EDT.
  EXPECT_EQ(Runs("0 9 * * *", "2026-03-07T15:00:00Z", 2, "America/New_York"),
            (Texts{"2026-03-08T13:00:00Z", "2026-03-09T13:00:00Z"}));
  EXPECT_EQ(Runs("0 9 * * *", "2026-03-07T00:00:00Z", 1, "America/New_York"), (Texts{"2026-03-07T14:00:00Z"}));
}

TEST(CronScheduleTest, ErrorsSayWhichFieldAndWhy) {
  struct Case {
    const char* expr;
    const char* says;
  };
  for (const Case& c : std::vector<Case>{
           {"0 3 * *", "has 4 fields"},
           {"0 3 * * * *", "has 6 fields"},
           {"", "has 0 fields"},
           {"60 * * * *", "minute field \"60\": 60 is out of range 0-59"},
           {"* 24 * * *", "hour field"},
           {"* * 0 * *", "day-of-month field \"0\": 0 is out of range 1-31"},
           {"* * * 13 *", "month field"},
           {"* * * * 8", "day-of-week field"},
           {"* * * foo *", "\"foo\" is neither a number nor a name"},
           {"*/0 * * * *", "a step of 0"},
           {"5-1 * * * *", "range 5-1 runs backwards"},
           {"1,,2 * * * *", "an empty item"},
           {"*/x * * * *", "step \"x\""},
           {"0 0 30 2 *", "no day matches"},
           {"0 0 31 4,6,9,11 *", "no day matches"},
           {"@reboot", "unknown nickname"},
           {"L * * * *", "neither a number nor a name"},
       }) {
    auto r = CronSchedule::Parse(c.expr);
    ASSERT_FALSE(r.ok()) << c.expr;
    EXPECT_NE(r.status().message().find(c.says), std::string::npos) << c.expr << ": " << r.status().message();
  }
  EXPECT_FALSE(CronSchedule::Parse(std::string(300, '*')).ok());
  EXPECT_FALSE(FindZone("Mars/Olympus_Mons").ok());
}

// A random field: what cron users write, in every form the syntax has.
std::string RandomField(std::mt19937_64& rng, unsigned lo, unsigned hi, const std::vector<std::string>& names) {
  auto pick = [&](unsigned a, unsigned b) { return std::uniform_int_distribution<unsigned>(a, b)(rng); };
  auto value = [&](unsigned v) {
    if (!names.empty() && pick(0, 3) == 0) return names[v - lo];
    return std::to_string(v);
  };
  switch (pick(0, 7)) {
    case 0:
    case 1:
      return "*";
    case 2:
      return value(pick(lo, hi));
    case 3: {
      const unsigned a = pick(lo, hi);
      return value(a) + "-" + value(pick(a, hi));
    }
    case 4:
      return "*/" + std::to_string(pick(1, (hi - lo) / 2 + 1));
    case 5: {
      const unsigned a = pick(lo, hi);
      return value(a) + "-" + value(pick(a, hi)) + "/" + std::to_string(pick(1, 4));
    }
    case 6:
      return std::to_string(pick(lo, hi)) + "/" + std::to_string(pick(1, 5));
    default: {
      std::string out = value(pick(lo, hi));
      for (unsigned n = pick(1, 3); n > 0; n--) out += "," + value(pick(lo, hi));
      return out;
    }
  }
}

TEST(CronScheduleTest, NextRunsEqualCroniters) {
  const std::vector<std::string> months = {"jan", "feb", "mar", "apr", "may", "jun",
                                           "jul", "aug", "sep", "oct", "nov", "dec"};
  const std::vector<std::string> days = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  std::mt19937_64 rng(20261207);
  struct Case {
    std::string expr;
    int64_t start;
  };
  std::vector<Case> cases;
  constexpr int kExpressions = 400;
  constexpr int kRuns = 6;
  for (int i = 0; i < kExpressions; i++) {
    const std::string expr = RandomField(rng, 0, 59, {}) + " " + RandomField(rng, 0, 23, {}) + " " +
                             RandomField(rng, 1, 28, {}) + " " + RandomField(rng, 1, 12, months) + " " +
                             RandomField(rng, 0, 6, days);
    // Start times from 2000 to 2040, at any second.
    const int64_t start = std::uniform_int_distribution<int64_t>(946684800, 2208988800)(rng);
    cases.push_back({expr, start});
  }
  const test::TempDir tmp;
  const std::string dir = tmp.path();
  {
    std::ofstream in(dir + "/cases");
    for (const Case& c : cases) in << c.expr << "\t" << c.start << "\t" << kRuns << "\n";
  }
  const std::string command = "/usr/bin/python3 " + std::string(BV_SOURCE_DIR) + "/tests/jobs/croniter_oracle.py < " +
                              dir + "/cases > " + dir + "/oracle";
  ASSERT_EQ(std::system(command.c_str()), 0) << command << " (python3-croniter is installed by scripts/deps.sh)";
  std::ifstream oracle(dir + "/oracle");
  const date::time_zone* utc = Zone("UTC");
  int compared = 0;
  for (const Case& c : cases) {
    std::string line;
    ASSERT_TRUE(std::getline(oracle, line)) << "the oracle answered fewer lines than it was asked";
    auto schedule = CronSchedule::Parse(c.expr);
    if (line == "error") {
      EXPECT_FALSE(schedule.ok()) << c.expr << ": croniter refuses it";
      continue;
    }
    ASSERT_TRUE(schedule.ok()) << c.expr << ": " << schedule.status().ToString();
    std::istringstream expected(line);
    Seconds t{seconds{c.start}};
    for (int i = 0; i < kRuns; i++) {
      int64_t want = 0;
      ASSERT_TRUE(expected >> want) << line;
      t = schedule->Next(t, utc);
      ASSERT_EQ(Text(t), Text(Seconds{seconds{want}})) << "\"" << c.expr << "\" run " << i + 1 << " after "
                                                       << Text(Seconds{seconds{c.start}});
    }
    compared++;
  }
  EXPECT_GT(compared, kExpressions * 9 / 10);
}

}  // namespace
}  // namespace bv::jobs
