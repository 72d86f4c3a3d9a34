// The retention options of bvtool prune: restic's names (--keep-last N … --keep-within-yearly D)
// and --min-keep, one per engine::RetentionRules() entry, read into an engine::RetentionPolicy.
#pragma once

#include <CLI/CLI.hpp>

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "engine/retention.h"

namespace bv::tool {

// Kept as given and read by engine::SetRetentionRule, as bvd reads PRUNE's options, so a count
// is decimal wherever it is written ("010" is ten, not octal eight).
struct KeepOptions {
  std::array<std::string, engine::kRetentionRules> values;  // beside engine::RetentionRules()

  // The rules given, as engine::RetentionRules() has them, with their values.
  std::vector<std::pair<const engine::RetentionRuleInfo*, std::string>> Rules() const;
  // The policy the options give; InvalidArgument naming the option whose value is bad, or for
  // no rule at all.
  Result<engine::RetentionPolicy> Policy() const;
};

void AddKeepOptions(CLI::App* sub, KeepOptions* k);

}  // namespace bv::tool
