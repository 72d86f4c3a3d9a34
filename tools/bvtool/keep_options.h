// The retention options of bvtool prune: restic's names (--keep-last N … --keep-within-yearly D)
// and --min-keep, read into an engine::RetentionPolicy.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "engine/retention.h"

namespace bv::tool {

struct KeepOptions {
  int32_t last = 0, hourly = 0, daily = 0, weekly = 0, monthly = 0, yearly = 0;
  std::string within, within_hourly, within_daily, within_weekly, within_monthly, within_yearly;
  int32_t min_keep = 1;

  // The rules given, as the protocol names them without "keep-" ("daily", "within-daily",
  // "min-keep"), with their values; min-keep only when not 1.
  std::vector<std::pair<std::string, std::string>> Rules() const;
  // The policy the options give; InvalidArgument naming the option whose value is bad, or for
  // no rule at all.
  Result<engine::RetentionPolicy> Policy() const;
};

void AddKeepOptions(CLI::App* sub, KeepOptions* k);

}  // namespace bv::tool
