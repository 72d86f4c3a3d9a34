// A tenant's jobs in bvd (docs/jobs.md): the scheduler made when its configuration first names
// jobs, given what the server lends a put (its workers, budget, disk reserve and the tenant's
// quota, as a push gets them), told of every change of the configuration, and its history in
// DATA/jobs/<tenant>/history.
#pragma once

#include <string>

#include "base/status.h"
#include "server/tenant.h"

namespace bv::server {

class Server;

// After the tenant opened or its configuration changed (cfg: the new one). A retired tenant's
// jobs stop being scheduled; runs under way finish.
Status ConfigureJobs(Server* server, Tenant* tenant, const TenantConfig& cfg, const std::string& data_dir);

}  // namespace bv::server
