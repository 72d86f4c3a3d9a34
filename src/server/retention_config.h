// A tenant's retention settings in bvd's config file (docs/protocol.md §9, docs/retention.md):
//
//   [[tenant]]
//   retention = { keep_daily = 7, keep_weekly = 4, keep_within = "2d", min_keep = 2 }  # the default
//   [[tenant.source]]
//   name = "pg/orders"
//   retention = { keep_daily = 30, keep_monthly = 12 }  # replaces the default for this source
//
// Keys are the rules' names with "keep_" in front (min_keep as it is): counts are integers,
// durations strings. A bad rule is refused with its line and column.
#pragma once

#include <toml++/toml.h>

#include <map>
#include <string>

#include "base/status.h"
#include "engine/retention.h"

namespace bv::server {

// At most this many [[tenant.source]] tables per tenant.
inline constexpr size_t kSourcesPerTenantMax = 10000;

// `node`: the value of a retention key; `path` names it in errors ("tenant[0].retention").
Status ParseRetention(const toml::node& node, const std::string& origin, const std::string& path,
                      engine::RetentionPolicy* out);

// `node`: the tenant's "source" array of tables.
Status ParseSourceRetention(const toml::node& node, const std::string& origin, const std::string& path,
                            std::map<std::string, engine::RetentionPolicy>* out);

}  // namespace bv::server
