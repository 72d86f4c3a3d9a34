#include "server/tenant_jobs.h"

#include <spdlog/spdlog.h>

#include "base/time_format.h"
#include "engine/prune.h"
#include "io/env.h"
#include "jobs/notify.h"
#include "server/server.h"

namespace bv::server {

namespace {

// The tenant's notify command, if it has one, told of a run that failed for good.
void Notify(const std::string& tenant, const std::vector<std::string>& argv, const jobs::JobSpec& spec,
            const format::RunRecord& r) {
  if (argv.empty()) return;
  jobs::StderrTail output(4096);
  auto failed = jobs::RunNotify(argv, jobs::RunRecordJson(tenant, spec, r), r, tenant, &output);
  if (failed) {
    spdlog::error("tenant {}: the notify command for job {} failed: {}; it wrote: {}", tenant, r.job, *failed,
                  output.Text());
  } else {
    spdlog::info("tenant {}: notify command told of job {}'s {} run", tenant, r.job,
                 jobs::RunResultName(static_cast<jobs::RunResult>(r.result)));
  }
}

jobs::JobHost HostFor(Server* server, Tenant* t) {
  jobs::JobHost host;
  host.volume = t->volume();
  host.prepare_put = [server, t](engine::PutOptions* o) -> Result<std::shared_ptr<void>> {
    o->pool = server->pool();
    o->budget = server->budget();
    o->batch_input = kSessionBatchInput;
    o->disk_reserve = server->DiskReserve();
    BV_ASSIGN_OR_RETURN(auto quota, t->ReserveQuota(o));
    return std::shared_ptr<void>(std::move(quota));
  };
  host.prune = [t](const std::vector<std::string>& sources, std::string* report) -> Result<size_t> {
    const TenantConfig cfg = t->config();
    auto policy_for = [&](const std::string& s) { return cfg.RetentionFor(s); };
    auto on_plan = [report](const engine::PrunePlan& p) {
      *report += p.source + ": " + std::to_string(p.remove.size()) + " of " + std::to_string(p.decisions.size()) +
                 " snapshots to remove (" + p.policy + ")\n";
      return Status::Ok();
    };
    BV_ASSIGN_OR_RETURN(size_t removed, engine::Prune(t->volume(), sources, policy_for, NowMicros(), false, on_plan));
    if (removed > 0) spdlog::info("tenant {}: job prune removed {} snapshots", t->name(), removed);
    return removed;
  };
  host.on_history_error = [name = t->name()](const Status& s) {
    spdlog::error("tenant {}: job history: {}", name, s.ToString());
  };
  host.on_failure = [t](const jobs::JobSpec& spec, const format::RunRecord& r, bool last) {
    spdlog::warn("tenant {}: job {} attempt {} {}: {}", t->name(), r.job, r.attempt,
                 jobs::RunResultName(static_cast<jobs::RunResult>(r.result)), r.error);
    // An operator's cancel, or bvd's own stop (SIGTERM), is nobody's alarm; a crash is, and is
    // told when bvd next starts (ConfigureJobs).
    const auto result = static_cast<jobs::RunResult>(r.result);
    if (last && result != jobs::RunResult::kCancelled && result != jobs::RunResult::kInterrupted) {
      Notify(t->name(), t->config().notify, spec, r);
    }
  };
  return host;
}

}  // namespace

Status ConfigureJobs(Server* server, Tenant* tenant, const TenantConfig& cfg, const std::string& data_dir) {
  const std::vector<jobs::JobSpec> none;
  const std::vector<jobs::JobSpec>& specs = tenant->retired() ? none : cfg.jobs;
  if (tenant->jobs() == nullptr) {
    if (specs.empty()) return Status::Ok();
    const std::string dir = data_dir + "/jobs/" + tenant->name() + "/history";
    BV_RETURN_IF_ERROR(io::MakeDirs(dir, 0700));
    std::vector<format::RunRecord> interrupted;
    BV_ASSIGN_OR_RETURN(auto history, jobs::JobHistory::Open(dir, NowMicros(), &interrupted));
    for (const format::RunRecord& r : interrupted) {
      spdlog::warn("tenant {}: job {} was running when bvd stopped; recorded as interrupted", tenant->name(), r.job);
      for (const jobs::JobSpec& spec : specs) {
        if (spec.name == r.job) Notify(tenant->name(), cfg.notify, spec, r);
      }
    }
    tenant->set_jobs(std::make_unique<jobs::Scheduler>(tenant->name(), HostFor(server, tenant), std::move(history)));
  }
  BV_RETURN_IF_ERROR(tenant->jobs()->Configure(specs, cfg.max_jobs, cfg.job_history_days));
  if (!specs.empty()) spdlog::info("tenant {}: {} jobs, {} at once", tenant->name(), specs.size(), cfg.max_jobs);
  return Status::Ok();
}

}  // namespace bv::server
