// A job's schedule in cron syntax, and the next time it runs after a given instant in a named
// time zone (docs/jobs.md). Five fields, minute hour day-of-month month day-of-week, each `*`, a
// number or name, a range `a-b`, a step `*/n`, `a/n` or `a-b/n`, or a list of those joined by
// commas; or one of @yearly (@annually), @monthly, @weekly, @daily (@midnight), @hourly.
//
// As in Vixie cron and python's croniter: when both the day-of-month and the day-of-week field
// leave days out, a day matches when either does; otherwise both must. Times are wall-clock times
// in the zone: a wall time that a spring-forward skips runs at the moment the clocks change, and
// one that a fall-back repeats runs once, at its first occurrence.
#pragma once

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace date {
class time_zone;
}

namespace bv::jobs {

using Seconds = std::chrono::sys_seconds;

// A zone of the system's tz database ("UTC", "Europe/Berlin"); NotFound names a bad one.
Result<const date::time_zone*> FindZone(const std::string& name);

class CronSchedule {
 public:
  static constexpr size_t kTextMax = 256;

  // InvalidArgument says which field is wrong and why, and refuses a schedule that never runs
  // (`0 0 30 2 *`).
  static Result<CronSchedule> Parse(std::string_view text);

  // The first run strictly after `after`, in `zone`. Every schedule Parse accepts runs within
  // any 28 years (the calendar's cycle of weekdays and leap years).
  Seconds Next(Seconds after, const date::time_zone* zone) const;

  const std::string& text() const { return text_; }

 private:
  CronSchedule() = default;
  // Whether any day of the 28-year cycle matches: Parse refuses a schedule where none does.
  bool RunsAtAll() const;
  // Whether the civil day (weekday 0 = Sunday) matches the two day fields.
  bool DayMatches(unsigned day_of_month, unsigned weekday) const;

  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;      // 1..31
  std::bitset<13> months_;    // 1..12
  std::bitset<7> weekdays_;   // 0 = Sunday
  bool days_all_ = false;     // the day-of-month field lists every day
  bool weekdays_all_ = false;
};

}  // namespace bv::jobs
