// One attempt of a maintenance job (docs/jobs.md): a prune job applies the retention policies of
// the tenant's sources and then compacts the volume; a verify job re-reads its share of the volume
// from where the last run stopped. What each did goes into the run's record as its report (where a
// command's standard error goes for the other kinds); damage that a verify finds fails the run.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/volume.h"
#include "jobs/backup_run.h"
#include "jobs/job_history.h"

namespace bv::jobs {

// Applies the retention policies of `sources` (each of which has snapshots; empty: every
// source) as the tenant's configuration says now; appends a line per source to *report and
// returns how many snapshots went.
using PruneSources = std::function<Result<size_t>(const std::vector<std::string>& sources, std::string* report)>;

RunOutcome RunPruneJob(engine::Volume* volume, const JobSpec& job, const PruneSources& prune, RunControl* control);

// The cursor is kept in `history`'s state under the job's name.
RunOutcome RunVerifyJob(engine::Volume* volume, const JobSpec& job, JobHistory* history, RunControl* control);

}  // namespace bv::jobs
