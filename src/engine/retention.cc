#include "engine/retention.h"

#include <algorithm>
#include <array>
#include <chrono>

namespace bv::engine {

namespace {

using std::chrono::days;
using std::chrono::sys_days;
using std::chrono::year_month_day;

constexpr int64_t kMicrosPerHour = 3'600'000'000;
constexpr int64_t kMicrosPerDay = 24 * kMicrosPerHour;
// Go's zero time, 0001-01-01T00:00:00Z: restic's newest time when every snapshot is in the future.
constexpr int64_t kGoZeroTimeUs = -62'135'596'800'000'000;
// Durations longer than this are refused, which keeps every date computed within std::chrono's years.
constexpr int64_t kDurationDaysMax = 9999 * 366;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

struct Civil {
  sys_days day;
  int64_t micros_of_day;
  year_month_day ymd;
  int64_t hour() const { return micros_of_day / kMicrosPerHour; }
};

Civil ToCivil(int64_t time_us) {
  const int64_t d = FloorDiv(time_us, kMicrosPerDay);
  const sys_days day{days{d}};
  return Civil{day, time_us - d * kMicrosPerDay, year_month_day{day}};
}

int64_t Year(const Civil& c) { return static_cast<int>(c.ymd.year()); }
int64_t Month(const Civil& c) { return static_cast<unsigned>(c.ymd.month()); }
int64_t Day(const Civil& c) { return static_cast<unsigned>(c.ymd.day()); }

// The ISO 8601 week-numbering year and week (the week's Thursday decides the year), as YYYYWW.
int64_t IsoWeek(const Civil& c) {
  const unsigned weekday = std::chrono::weekday{c.day}.iso_encoding();  // Monday 1 … Sunday 7
  const sys_days thursday = c.day - days{weekday - 1} + days{3};
  const std::chrono::year y = year_month_day{thursday}.year();
  const int64_t week = (thursday - sys_days{y / std::chrono::January / 1}).count() / 7 + 1;
  return static_cast<int>(y) * 100 + week;
}

// The bucket a snapshot falls in for each rule; restic's ymdh, ymd, yw, ym and y.
enum Bucket { kHour, kDay, kWeek, kMonth, kYear, kBuckets };

int64_t BucketOf(Bucket b, const Civil& c) {
  switch (b) {
    case kHour: return Year(c) * 1'000'000 + Month(c) * 10'000 + Day(c) * 100 + c.hour();
    case kDay: return Year(c) * 10'000 + Month(c) * 100 + Day(c);
    case kWeek: return IsoWeek(c);
    case kMonth: return Year(c) * 100 + Month(c);
    case kYear: return Year(c);
    case kBuckets: break;
  }
  return 0;
}

// `time_us` less `d`, as Go's t.AddDate(-y, -m, -d).Add(-h hours): months and years move the
// calendar date, whose overflow then rolls into the next month (March 31 less a month is "February
// 31", which is March 3, or March 2 in a leap year).
int64_t PastTime(int64_t time_us, const KeepDuration& d) {
  const Civil c = ToCivil(time_us);
  const int64_t months = Year(c) * 12 + (Month(c) - 1) - int64_t{d.years} * 12 - d.months;
  const int64_t y = FloorDiv(months, 12);
  const unsigned m = static_cast<unsigned>(months - y * 12 + 1);
  const sys_days first{std::chrono::year{static_cast<int>(y)} / std::chrono::month{m} / 1};
  const sys_days day = first + days{Day(c) - 1 - d.days};
  return day.time_since_epoch().count() * kMicrosPerDay + c.micros_of_day - int64_t{d.hours} * kMicrosPerHour;
}

struct CountRule {
  int32_t count;
  const char* reason;
  Bucket bucket;  // kBuckets: every snapshot is its own (keep-last)
};

struct WithinRule {
  const KeepDuration* within;
  const char* reason;
  Bucket bucket;
};

// Text from a request or a config file as an error shows it: its first 64 bytes, anything but
// printable ASCII as \xNN, so the error stays one whole line and carries no terminal escapes.
std::string Printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : text.substr(0, 64)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '\\') {
      out.push_back(c);
    } else {
      out += std::string("\\x") + kHex[u >> 4] + kHex[u & 15];
    }
  }
  return text.size() > 64 ? out + "..." : out;
}

}  // namespace

Status CheckRetentionPolicy(const RetentionPolicy& p) {
  if (p.empty()) {
    return Status::InvalidArgument(
        "the policy has no keep rule, so it would remove every snapshot: give at least one of --keep-last, "
        "--keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly, --keep-within and the "
        "--keep-within-* forms");
  }
  for (int32_t n : {p.last, p.hourly, p.daily, p.weekly, p.monthly, p.yearly}) {
    if (n < 0 || n > kKeepCountMax) {
      return Status::InvalidArgument("a keep count must be from 0 to " + std::to_string(kKeepCountMax) + ", not " +
                                     std::to_string(n));
    }
  }
  if (p.min_keep < 1) return Status::InvalidArgument("min_keep must be at least 1, not " + std::to_string(p.min_keep));
  return Status::Ok();
}

std::string KeepDuration::ToString() const {
  std::string s;
  if (years != 0) s += std::to_string(years) + "y";
  if (months != 0) s += std::to_string(months) + "m";
  if (days != 0) s += std::to_string(days) + "d";
  if (hours != 0) s += std::to_string(hours) + "h";
  return s.empty() ? "0h" : s;
}

Result<KeepDuration> ParseKeepDuration(std::string_view text) {
  const std::string shown = Printable(text);
  const auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("duration '" + shown + "': " + why + " (e.g. 30d, 2w3d, 1y6m, 12h)");
  };
  if (text.empty()) return bad("empty");
  KeepDuration d;
  std::string seen;
  while (!text.empty()) {
    int64_t n = 0;
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
      n = n * 10 + (text[digits++] - '0');
      if (n > kKeepDurationPartMax) return bad("a number larger than " + std::to_string(kKeepDurationPartMax));
    }
    if (digits == 0) return bad("expected a number at '" + Printable(text) + "'");
    if (digits == text.size()) return bad("no unit after " + std::to_string(n) + " (y, m, w, d or h)");
    const char unit = text[digits];
    if (seen.find(unit) != std::string::npos) return bad(std::string("the unit ") + unit + " twice");
    seen.push_back(unit);
    const int32_t v = static_cast<int32_t>(n);
    switch (unit) {
      case 'y': d.years = v; break;
      case 'm': d.months = v; break;
      case 'w': d.days += 7 * v; break;
      case 'd': d.days += v; break;
      case 'h': d.hours = v; break;
      default: return bad(std::string("unknown unit '") + unit + "' (y, m, w, d or h)");
    }
    text.remove_prefix(digits + 1);
  }
  // Weeks and days together are days, as the duration prints: no more of them than one part holds.
  if (d.days > kKeepDurationPartMax) return bad("more than " + std::to_string(kKeepDurationPartMax) + " days");
  const int64_t approx_days = int64_t{d.years} * 366 + int64_t{d.months} * 31 + d.days + d.hours / 24;
  if (approx_days > kDurationDaysMax) return bad("longer than 9999 years");
  return d;
}

const std::array<RetentionRuleInfo, kRetentionRules>& RetentionRules() {
  using P = RetentionPolicy;
  static const std::array<RetentionRuleInfo, kRetentionRules> kRules{{
      {"last", "keep_last", &P::last, nullptr},
      {"hourly", "keep_hourly", &P::hourly, nullptr},
      {"daily", "keep_daily", &P::daily, nullptr},
      {"weekly", "keep_weekly", &P::weekly, nullptr},
      {"monthly", "keep_monthly", &P::monthly, nullptr},
      {"yearly", "keep_yearly", &P::yearly, nullptr},
      {"within", "keep_within", nullptr, &P::within},
      {"within-hourly", "keep_within_hourly", nullptr, &P::within_hourly},
      {"within-daily", "keep_within_daily", nullptr, &P::within_daily},
      {"within-weekly", "keep_within_weekly", nullptr, &P::within_weekly},
      {"within-monthly", "keep_within_monthly", nullptr, &P::within_monthly},
      {"within-yearly", "keep_within_yearly", nullptr, &P::within_yearly},
      {"min-keep", "min_keep", &P::min_keep, nullptr},
  }};
  return kRules;
}

namespace {

Status SetCount(int32_t* out, std::string_view rule, std::string_view value, int64_t min) {
  int64_t v = 0;
  bool ok = !value.empty() && value.size() <= 7;  // kKeepCountMax has 7 digits: no overflow below
  for (size_t i = 0; ok && i < value.size(); i++) {
    ok = value[i] >= '0' && value[i] <= '9';
    v = v * 10 + (value[i] - '0');
  }
  if (!ok || v < min || v > kKeepCountMax) {
    return Status::InvalidArgument(std::string(rule) + ": '" + Printable(value) + "' is not a count from " +
                                   std::to_string(min) + " to " + std::to_string(kKeepCountMax));
  }
  *out = static_cast<int32_t>(v);
  return Status::Ok();
}

}  // namespace

Status SetRetentionRule(RetentionPolicy* p, std::string_view rule, std::string_view value) {
  for (const RetentionRuleInfo& r : RetentionRules()) {
    if (r.name != rule) continue;
    if (r.count != nullptr) return SetCount(&(p->*r.count), rule, value, r.guard() ? 1 : 0);
    auto d = ParseKeepDuration(value);
    if (!d.ok()) return Status::InvalidArgument(std::string(rule) + ": " + d.status().message());
    p->*r.duration = *d;
    return Status::Ok();
  }
  return Status::InvalidArgument("unknown retention rule '" + Printable(rule) +
                                 "' (last, hourly, daily, weekly, monthly, yearly, within, within-hourly … "
                                 "within-yearly, min-keep)");
}

std::string RetentionRuleOfKey(std::string_view key) {
  for (const RetentionRuleInfo& r : RetentionRules()) {
    if (r.key == key) return std::string(r.name);
  }
  return "";
}

bool RetentionPolicy::empty() const {
  for (const RetentionRuleInfo& r : RetentionRules()) {
    if (r.guard()) continue;
    if (r.count != nullptr ? this->*r.count > 0 : !(this->*r.duration).zero()) return false;
  }
  return true;
}

std::string RetentionPolicy::ToString() const {
  std::string s;
  for (const RetentionRuleInfo& r : RetentionRules()) {
    if (r.guard()) continue;
    std::string value;
    if (r.count != nullptr && this->*r.count > 0) value = std::to_string(this->*r.count);
    if (r.duration != nullptr && !(this->*r.duration).zero()) value = (this->*r.duration).ToString();
    if (!value.empty()) s += std::string(s.empty() ? "" : " ") + "--keep-" + std::string(r.name) + " " + value;
  }
  return s + " (min_keep " + std::to_string(min_keep) + ")";
}

Result<std::vector<RetentionDecision>> ApplyRetention(std::vector<SnapshotTime> snapshots,
                                                      const RetentionPolicy& p, int64_t now_us) {
  BV_RETURN_IF_ERROR(CheckRetentionPolicy(p));
  std::stable_sort(snapshots.begin(), snapshots.end(),
                   [](const SnapshotTime& a, const SnapshotTime& b) { return a.time_us > b.time_us; });
  int64_t newest = kGoZeroTimeUs;  // restic: the newest that is not in the future
  for (const SnapshotTime& s : snapshots) {
    if (s.time_us < now_us) newest = std::max(newest, s.time_us);
  }
  std::array<CountRule, 6> counts{{{p.last, "last snapshot", kBuckets},
                                   {p.hourly, "hourly snapshot", kHour},
                                   {p.daily, "daily snapshot", kDay},
                                   {p.weekly, "weekly snapshot", kWeek},
                                   {p.monthly, "monthly snapshot", kMonth},
                                   {p.yearly, "yearly snapshot", kYear}}};
  const std::array<WithinRule, 5> withins{{{&p.within_hourly, "hourly within", kHour},
                                           {&p.within_daily, "daily within", kDay},
                                           {&p.within_weekly, "weekly within", kWeek},
                                           {&p.within_monthly, "monthly within", kMonth},
                                           {&p.within_yearly, "yearly within", kYear}}};
  std::array<int64_t, 6> count_last;
  std::array<int64_t, 5> within_last;
  count_last.fill(-1);
  within_last.fill(-1);
  std::vector<RetentionDecision> out;
  out.reserve(snapshots.size());
  for (size_t nr = 0; nr < snapshots.size(); nr++) {
    const SnapshotTime& s = snapshots[nr];
    const Civil c = ToCivil(s.time_us);
    RetentionDecision d{s.id, s.time_us, false, {}};
    if (!p.within.zero() && s.time_us > PastTime(newest, p.within)) d.reasons.push_back("within " + p.within.ToString());
    for (size_t i = 0; i < counts.size(); i++) {
      if (counts[i].count <= 0) continue;
      const int64_t v = counts[i].bucket == kBuckets ? static_cast<int64_t>(nr) : BucketOf(counts[i].bucket, c);
      if (v == count_last[i]) continue;
      count_last[i] = v;
      counts[i].count--;
      d.reasons.push_back(counts[i].reason);
    }
    for (size_t i = 0; i < withins.size(); i++) {
      const KeepDuration& w = *withins[i].within;
      if (w.zero() || s.time_us <= PastTime(newest, w)) continue;
      const int64_t v = BucketOf(withins[i].bucket, c);
      if (v == within_last[i]) continue;
      within_last[i] = v;
      d.reasons.push_back(std::string(withins[i].reason) + " " + w.ToString());
    }
    d.keep = !d.reasons.empty();
    out.push_back(std::move(d));
  }
  // The guards: at least min_keep kept, the newest first among those the rules let go.
  int64_t kept = std::count_if(out.begin(), out.end(), [](const RetentionDecision& d) { return d.keep; });
  for (RetentionDecision& d : out) {
    if (kept >= p.min_keep) break;
    if (d.keep) continue;
    d.keep = true;
    d.reasons.push_back("min_keep " + std::to_string(p.min_keep));
    kept++;
  }
  BV_ASSERT(out.empty() || out.front().keep);  // the newest: min_keep is at least 1
  return out;
}

}  // namespace bv::engine
