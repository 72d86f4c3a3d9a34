#include "jobs/cron_schedule.h"

#include <date/date.h>
#include <date/tz.h>

#include <array>
#include <cctype>
#include <vector>

namespace bv::jobs {

Result<const date::time_zone*> FindZone(const std::string& name) {
  try {
    return date::locate_zone(name);
  } catch (const std::exception& e) {
    return Status::NotFound("time zone \"" + name + "\" is not in the system's tz database (" + e.what() + ")");
  }
}

namespace {

struct Field {
  const char* name;
  unsigned min, max;
  std::array<const char*, 12> names;  // the value `min + i` may be written names[i]
};

constexpr std::array<Field, 5> kFields = {{
    {"minute", 0, 59, {}},
    {"hour", 0, 23, {}},
    {"day-of-month", 1, 31, {}},
    {"month", 1, 12, {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
    // 7 is Sunday too.
    {"day-of-week", 0, 7, {"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}};

struct Nickname {
  const char* name;
  const char* fields;
};

constexpr std::array<Nickname, 7> kNicknames = {{
    {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},
    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
}};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A number or, where the field has them, a name.
Result<unsigned> ParseValue(const Field& f, std::string_view s) {
  if (!s.empty() && s.size() <= 3 && std::isdigit(static_cast<unsigned char>(s[0]))) {
    unsigned v = 0;
    for (char c : s) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return Status::InvalidArgument("\"" + std::string(s) + "\" is not a number");
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v < f.min || v > f.max) {
      return Status::InvalidArgument(std::to_string(v) + " is out of range " + std::to_string(f.min) + "-" +
                                     std::to_string(f.max));
    }
    return v;
  }
  const std::string lower = Lower(s);
  for (size_t i = 0; i < f.names.size() && f.names[i] != nullptr; i++) {
    if (lower == f.names[i]) return f.min + static_cast<unsigned>(i);
  }
  return Status::InvalidArgument("\"" + std::string(s) + "\" is neither a number nor a name of this field");
}

// One item of a field's list: `*`, `v`, `a-b`, each optionally `/step`; `v/step` means `v-max/step`.
Status ParseItem(const Field& f, std::string_view item, std::vector<unsigned>* values) {
  std::string_view base = item;
  unsigned step = 1;
  bool stepped = false;
  if (const size_t slash = item.find('/'); slash != std::string_view::npos) {
    base = item.substr(0, slash);
    const std::string_view s = item.substr(slash + 1);
    if (s.empty() || s.size() > 3) return Status::InvalidArgument("step \"" + std::string(s) + "\" is not a number 1-999");
    step = 0;
    for (char c : s) {
      if (!std::isdigit(static_cast<unsigned char>(c))) {
        return Status::InvalidArgument("step \"" + std::string(s) + "\" is not a number 1-999");
      }
      step = step * 10 + static_cast<unsigned>(c - '0');
    }
    if (step == 0) return Status::InvalidArgument("a step of 0 never advances");
    stepped = true;
  }
  unsigned lo = f.min, hi = f.max;
  if (base != "*") {
    const size_t dash = base.find('-');
    BV_ASSIGN_OR_RETURN(lo, ParseValue(f, base.substr(0, dash)));
    if (dash != std::string_view::npos) {
      BV_ASSIGN_OR_RETURN(hi, ParseValue(f, base.substr(dash + 1)));
      if (f.max == 7 && hi == 0 && lo > 0) hi = 7;  // `fri-sun`: Sunday as 7
      if (lo > hi) return Status::InvalidArgument("range " + std::string(base) + " runs backwards");
    } else if (!stepped) {
      hi = lo;
    }
  }
  for (unsigned v = lo; v <= hi; v += step) values->push_back(v);
  return Status::Ok();
}

template <size_t N>
Status ParseField(const Field& f, std::string_view text, std::bitset<N>* bits) {
  size_t begin = 0;
  for (;;) {
    const size_t comma = text.find(',', begin);
    const std::string_view item = text.substr(begin, comma == std::string_view::npos ? text.npos : comma - begin);
    if (item.empty()) return Status::InvalidArgument(std::string(f.name) + " field \"" + std::string(text) + "\" has an empty item");
    std::vector<unsigned> values;
    Status s = ParseItem(f, item, &values);
    if (!s.ok()) return Status::InvalidArgument(std::string(f.name) + " field \"" + std::string(text) + "\": " + s.message());
    for (unsigned v : values) bits->set(f.max == 7 && v == 7 ? 0 : v);  // Sunday as 7
    if (comma == std::string_view::npos) return Status::Ok();
    begin = comma + 1;
  }
}

std::vector<std::string_view> SplitFields(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) i++;
    const size_t begin = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) i++;
    if (i > begin) out.push_back(text.substr(begin, i - begin));
  }
  return out;
}

constexpr int kCycleDays = 28 * 366;  // every weekday falls on every date of the year in 28 years

}  // namespace

Result<CronSchedule> CronSchedule::Parse(std::string_view text) {
  auto fail = [&](const std::string& why) {
    return Status::InvalidArgument("cron schedule \"" + std::string(text.substr(0, kTextMax)) + "\": " + why);
  };
  if (text.size() > kTextMax) return fail("longer than " + std::to_string(kTextMax) + " characters");
  std::vector<std::string_view> fields = SplitFields(text);
  if (fields.size() == 1 && fields[0].starts_with('@')) {
    const std::string lower = Lower(fields[0]);
    const Nickname* found = nullptr;
    for (const Nickname& n : kNicknames) {
      if (lower == n.name) found = &n;
    }
    if (found == nullptr) return fail("unknown nickname (@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)");
    fields = SplitFields(found->fields);
  }
  if (fields.size() != 5) {
    return fail("has " + std::to_string(fields.size()) +
                " fields; a schedule has 5 (minute hour day-of-month month day-of-week) or is an @nickname");
  }
  CronSchedule c;
  c.text_ = std::string(text);
  Status s = ParseField(kFields[0], fields[0], &c.minutes_);
  if (s.ok()) s = ParseField(kFields[1], fields[1], &c.hours_);
  if (s.ok()) s = ParseField(kFields[2], fields[2], &c.days_);
  if (s.ok()) s = ParseField(kFields[3], fields[3], &c.months_);
  if (s.ok()) s = ParseField(kFields[4], fields[4], &c.weekdays_);
  if (!s.ok()) return fail(s.message());
  c.days_all_ = c.days_.count() == 31;
  c.weekdays_all_ = c.weekdays_.count() == 7;
  if (!c.RunsAtAll()) return fail("no day matches it (a date that no month has)");
  return c;
}

bool CronSchedule::DayMatches(unsigned day_of_month, unsigned weekday) const {
  const bool day = days_[day_of_month], week = weekdays_[weekday];
  if (!days_all_ && !weekdays_all_) return day || week;
  return day && week;
}

bool CronSchedule::RunsAtAll() const {
  date::sys_days d = date::sys_days(date::year{2000} / 1 / 1);
  for (int i = 0; i < kCycleDays; i++, d += date::days{1}) {
    const date::year_month_day ymd(d);
    if (months_[unsigned(ymd.month())] && DayMatches(unsigned(ymd.day()), date::weekday(d).c_encoding())) return true;
  }
  return false;
}

namespace {

using LocalMinutes = date::local_time<std::chrono::minutes>;

}  // namespace

Seconds CronSchedule::Next(Seconds after, const date::time_zone* zone) const {
  using std::chrono::minutes;
  const date::local_seconds local_after = zone->to_local(after);
  LocalMinutes t = std::chrono::floor<minutes>(local_after) + minutes{1};
  for (;;) {
    // The first matching wall-clock minute at or after t.
    date::local_days day = std::chrono::floor<date::days>(t);
    unsigned h = static_cast<unsigned>((t - day) / std::chrono::hours{1});
    unsigned m = static_cast<unsigned>((t - day - std::chrono::hours{h}) / minutes{1});
    std::optional<LocalMinutes> found;
    for (int i = 0; i <= kCycleDays && !found; i++) {
      const date::year_month_day ymd(day);
      if (!months_[unsigned(ymd.month())]) {
        day = date::local_days((ymd.year() / ymd.month() + date::months{1}) / 1);
        h = m = 0;
        continue;
      }
      if (DayMatches(unsigned(ymd.day()), date::weekday(day).c_encoding())) {
        for (; h < 24 && !found; h++, m = 0) {
          if (!hours_[h]) continue;
          for (; m < 60; m++) {
            if (minutes_[m]) {
              found = day + std::chrono::hours{h} + minutes{m};
              break;
            }
          }
        }
      }
      day += date::days{1};
      h = m = 0;
    }
    BV_ASSERT(found.has_value());  // Parse refused schedules no day of the cycle matches
    // A skipped wall time maps to the moment the clocks changed; a repeated one to its first occurrence.
    const Seconds at = std::chrono::time_point_cast<std::chrono::seconds>(zone->to_sys(*found, date::choose::earliest));
    if (at > after) return at;
    t = *found + minutes{1};  // `after` is in the second pass of a repeated hour
  }
}

}  // namespace bv::jobs
