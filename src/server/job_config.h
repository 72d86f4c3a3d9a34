// The [[tenant.job]] tables of bvd's configuration (docs/jobs.md): each a backup job.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <vector>

#include "base/status.h"
#include "jobs/job_spec.h"

namespace bv::server {

// `node` is the tenant's `job` field; `path` names it in errors ("tenant[0].job").
Status ParseJobs(const toml::node& node, const std::string& origin, const std::string& path,
                 std::vector<jobs::JobSpec>* out);

}  // namespace bv::server
