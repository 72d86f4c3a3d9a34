// The retention options of bvtool prune: restic's names (--keep-last N … --keep-within-yearly D)
// and --min-keep, read into an engine::RetentionPolicy.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

#include "base/status.h"
#include "engine/retention.h"

namespace bv::tool {

struct KeepOptions {
  int32_t last = 0, hourly = 0, daily = 0, weekly = 0, monthly = 0, yearly = 0;
  std::string within, within_hourly, within_daily, within_weekly, within_monthly, within_yearly;
  int32_t min_keep = 1;

  // The policy the options give; InvalidArgument naming the option whose duration is bad.
  Result<engine::RetentionPolicy> Policy() const;
};

void AddKeepOptions(CLI::App* sub, KeepOptions* k);

}  // namespace bv::tool
