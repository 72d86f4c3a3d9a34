#include "tools/bvtool/keep_options.h"

#include <array>
#include <utility>
#include <vector>

namespace bv::tool {

void AddKeepOptions(CLI::App* sub, KeepOptions* k) {
  sub->add_option("--keep-last", k->last, "keep the N newest snapshots");
  sub->add_option("--keep-hourly", k->hourly, "keep the newest snapshot of each of the N newest hours that have one");
  sub->add_option("--keep-daily", k->daily, "… of each of the N newest days (UTC)");
  sub->add_option("--keep-weekly", k->weekly, "… of each of the N newest ISO weeks");
  sub->add_option("--keep-monthly", k->monthly, "… of each of the N newest months");
  sub->add_option("--keep-yearly", k->yearly, "… of each of the N newest years");
  sub->add_option("--keep-within", k->within,
                  "keep every snapshot newer than the newest less DURATION (30d, 2w3d, 1y6m, 12h)");
  sub->add_option("--keep-within-hourly", k->within_hourly, "keep the newest of each hour within DURATION");
  sub->add_option("--keep-within-daily", k->within_daily, "keep the newest of each day within DURATION");
  sub->add_option("--keep-within-weekly", k->within_weekly, "keep the newest of each ISO week within DURATION");
  sub->add_option("--keep-within-monthly", k->within_monthly, "keep the newest of each month within DURATION");
  sub->add_option("--keep-within-yearly", k->within_yearly, "keep the newest of each year within DURATION");
  sub->add_option("--min-keep", k->min_keep, "never keep fewer than N snapshots of a source (default 1)");
}

std::vector<std::pair<std::string, std::string>> KeepOptions::Rules() const {
  const std::array<std::pair<const char*, const std::string*>, 13> all{{{"last", &last},
                                                                      {"hourly", &hourly},
                                                                      {"daily", &daily},
                                                                      {"weekly", &weekly},
                                                                      {"monthly", &monthly},
                                                                      {"yearly", &yearly},
                                                                      {"within", &within},
                                                                      {"within-hourly", &within_hourly},
                                                                      {"within-daily", &within_daily},
                                                                      {"within-weekly", &within_weekly},
                                                                      {"within-monthly", &within_monthly},
                                                                      {"within-yearly", &within_yearly},
                                                                      {"min-keep", &min_keep}}};
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [rule, value] : all) {
    if (!value->empty()) out.emplace_back(rule, *value);
  }
  return out;
}

Result<engine::RetentionPolicy> KeepOptions::Policy() const {
  engine::RetentionPolicy p;
  for (const auto& [rule, value] : Rules()) {
    if (Status s = engine::SetRetentionRule(&p, rule, value); !s.ok()) {
      return Status::InvalidArgument((rule == "min-keep" ? "--" : "--keep-") + s.message());
    }
  }
  BV_RETURN_IF_ERROR(engine::CheckRetentionPolicy(p));
  return p;
}

}  // namespace bv::tool
