#include "tools/bvtool/keep_options.h"

#include <array>
#include <utility>

namespace bv::tool {

void AddKeepOptions(CLI::App* sub, KeepOptions* k) {
  const auto count = CLI::Range(0, engine::kKeepCountMax);
  sub->add_option("--keep-last", k->last, "keep the N newest snapshots")->check(count);
  sub->add_option("--keep-hourly", k->hourly, "keep the newest snapshot of each of the N newest hours that have one")
      ->check(count);
  sub->add_option("--keep-daily", k->daily, "… of each of the N newest days (UTC)")->check(count);
  sub->add_option("--keep-weekly", k->weekly, "… of each of the N newest ISO weeks")->check(count);
  sub->add_option("--keep-monthly", k->monthly, "… of each of the N newest months")->check(count);
  sub->add_option("--keep-yearly", k->yearly, "… of each of the N newest years")->check(count);
  sub->add_option("--keep-within", k->within,
                  "keep every snapshot newer than the newest less DURATION (30d, 2w3d, 1y6m, 12h)");
  sub->add_option("--keep-within-hourly", k->within_hourly, "keep the newest of each hour within DURATION");
  sub->add_option("--keep-within-daily", k->within_daily, "keep the newest of each day within DURATION");
  sub->add_option("--keep-within-weekly", k->within_weekly, "keep the newest of each ISO week within DURATION");
  sub->add_option("--keep-within-monthly", k->within_monthly, "keep the newest of each month within DURATION");
  sub->add_option("--keep-within-yearly", k->within_yearly, "keep the newest of each year within DURATION");
  sub->add_option("--min-keep", k->min_keep, "never keep fewer than N snapshots of a source (default 1)")
      ->check(CLI::Range(1, engine::kKeepCountMax));
}

Result<engine::RetentionPolicy> KeepOptions::Policy() const {
  engine::RetentionPolicy p;
  p.last = last;
  p.hourly = hourly;
  p.daily = daily;
  p.weekly = weekly;
  p.monthly = monthly;
  p.yearly = yearly;
  p.min_keep = min_keep;
  const std::array<std::tuple<const char*, const std::string*, engine::KeepDuration*>, 6> durations{{
      {"--keep-within", &within, &p.within},
      {"--keep-within-hourly", &within_hourly, &p.within_hourly},
      {"--keep-within-daily", &within_daily, &p.within_daily},
      {"--keep-within-weekly", &within_weekly, &p.within_weekly},
      {"--keep-within-monthly", &within_monthly, &p.within_monthly},
      {"--keep-within-yearly", &within_yearly, &p.within_yearly},
  }};
  for (const auto& [option, text, out] : durations) {
    if (text->empty()) continue;
    auto d = engine::ParseKeepDuration(*text);
    if (!d.ok()) return Status::InvalidArgument(std::string(option) + ": " + d.status().message());
    *out = *d;
  }
  BV_RETURN_IF_ERROR(engine::CheckRetentionPolicy(p));
  return p;
}

}  // namespace bv::tool
