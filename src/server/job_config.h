// The [[tenant.job]], [[tenant.restore]], [[tenant.prune]] and [[tenant.verify]] tables of bvd's
// configuration (docs/jobs.md).
#pragma once

#include <toml++/toml.h>

#include <string>
#include <vector>

#include "base/status.h"
#include "jobs/job_spec.h"
#include "server/config_fields.h"

namespace bv::server {

// The tenant's `job`, `restore`, `prune` and `verify` fields (any may be null).
struct JobTables {
  const toml::node* backups = nullptr;
  const toml::node* restores = nullptr;
  const toml::node* prunes = nullptr;
  const toml::node* verifies = nullptr;
};

// `path` names the tenant in errors ("tenant[0]"). Job names are unique across all kinds.
Status ParseJobs(const JobTables& tables, const std::string& origin, const std::string& path,
                 std::vector<jobs::JobSpec>* out);

// The tenant's notify command: `notify` (argv) or `notify_shell` (run by sh -c); empty when none.
Status ParseNotify(Fields& f, const toml::table& t, std::vector<std::string>* argv);

}  // namespace bv::server
