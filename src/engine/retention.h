// Retention: which snapshots of one source a policy keeps (docs/retention.md). The rules are
// restic's (`forget`, 0.14), so that a policy means the same in both: snapshots newest first;
// `last N` keeps the N newest; a bucket rule (hourly, daily, weekly, monthly, yearly) keeps the
// newest snapshot of each of the N newest buckets that hold one; `within D` keeps every snapshot
// newer than the newest (not in the future) less D; `within-daily D` and its kin keep the newest
// of every bucket newer than that. A snapshot is kept if any rule keeps it. Buckets are in UTC
// and weeks are ISO weeks. Two guards follow no policy: the newest snapshot is always kept, and at
// least min_keep are.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace bv::engine {

// restic's durations: years, months, days and hours, "1y6m", "30d", "12h"; BV reads "w" as 7 days
// ("2w3d" is 17 days). Months and years are calendar ones, counted back from the newest snapshot
// the way Go's AddDate does (March 31 less one month is March 3 or 2).
struct KeepDuration {
  int32_t years = 0, months = 0, days = 0, hours = 0;
  bool zero() const { return years == 0 && months == 0 && days == 0 && hours == 0; }
  std::string ToString() const;  // "1y2m3d4h" (weeks as days)
};

// Named limits: counts and durations beyond these are refused, not wrapped.
inline constexpr int32_t kKeepCountMax = 1'000'000;
inline constexpr int32_t kKeepDurationPartMax = 100'000;

Result<KeepDuration> ParseKeepDuration(std::string_view text);

struct RetentionPolicy {
  int32_t last = 0, hourly = 0, daily = 0, weekly = 0, monthly = 0, yearly = 0;
  KeepDuration within, within_hourly, within_daily, within_weekly, within_monthly, within_yearly;
  int32_t min_keep = 1;  // a guard, not a rule: never fewer kept than this

  // No rule at all (min_keep is not one): such a policy decides nothing and is refused.
  bool empty() const;
  std::string ToString() const;  // "keep 7 daily, 4 weekly, within 30d" — for logs and reports
};

// Every rule of a policy, in restic's order, then the min_keep guard: how the command line
// ("--keep-" + name, "--min-keep"), the protocol and the config file (key) name it, and where it
// lives in a RetentionPolicy. The one list every reader and writer of policies goes through.
struct RetentionRuleInfo {
  std::string_view name;                              // "daily", "within-daily", "min-keep"
  std::string_view key;                               // "keep_daily", "keep_within_daily", "min_keep"
  int32_t RetentionPolicy::*count = nullptr;          // a count rule, and min-keep
  KeepDuration RetentionPolicy::*duration = nullptr;  // a duration rule
  bool guard() const { return name == "min-keep"; }
};
inline constexpr size_t kRetentionRules = 13;
const std::array<RetentionRuleInfo, kRetentionRules>& RetentionRules();

// Sets one rule by its name, as the protocol and the config file spell it without "keep-":
// "last", "hourly" … "yearly" take a count; "within", "within-hourly" … "within-yearly" a
// duration; "min-keep" a count of at least 1. InvalidArgument naming the rule for anything else.
Status SetRetentionRule(RetentionPolicy* policy, std::string_view rule, std::string_view value);
// The rule a config key or protocol option names: "keep_within_daily" is "within-daily",
// "min_keep" is "min-keep"; "" for a key that names no rule.
std::string RetentionRuleOfKey(std::string_view key);

// InvalidArgument for an empty policy (no rule: it would keep nothing) or a count or min_keep out
// of range.
Status CheckRetentionPolicy(const RetentionPolicy& policy);

struct SnapshotTime {
  uint64_t id = 0;
  int64_t time_us = 0;
};

struct RetentionDecision {
  uint64_t id = 0;
  int64_t time_us = 0;
  bool keep = false;
  std::vector<std::string> reasons;  // the rules that keep it, "daily snapshot", "within 30d", …
};

// The decision for every snapshot of one source, newest first (equal times in the order given).
// now_us: a snapshot dated after it does not count as the newest for the `within` rules.
// Fails as CheckRetentionPolicy does.
Result<std::vector<RetentionDecision>> ApplyRetention(std::vector<SnapshotTime> snapshots,
                                                      const RetentionPolicy& policy, int64_t now_us);

}  // namespace bv::engine
