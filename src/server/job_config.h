// The [[tenant.job]] and [[tenant.restore]] tables of bvd's configuration (docs/jobs.md).
#pragma once

#include <toml++/toml.h>

#include <string>
#include <vector>

#include "base/status.h"
#include "jobs/job_spec.h"

namespace bv::server {

// The tenant's `job` and `restore` fields (either may be null); `path` names the tenant in errors
// ("tenant[0]"). Job names are unique across both.
Status ParseJobs(const toml::node* backups, const toml::node* restores, const std::string& origin,
                 const std::string& path, std::vector<jobs::JobSpec>* out);

}  // namespace bv::server
