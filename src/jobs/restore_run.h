// One attempt of a restore job (docs/jobs.md): optionally its safety backup first; then the
// snapshot's stream into the job's command, which sees the end of its input only once the stream
// is whole and its hash checked (a failed restore kills it first, so a transactional consumer
// rolls back); then the check command. The run is ok only when every command exits 0. Standard
// output and error of the commands are kept in the bounded tail.
#pragma once

#include <string>

#include "engine/put_options.h"
#include "engine/thread_pool.h"
#include "jobs/backup_run.h"

namespace bv::jobs {

struct RestoreRequest {
  std::string snapshot;       // a snapshot reference (engine/snapshot_ref.h); "": the source's newest
  const JobSpec* backup_first = nullptr;  // the safety backup's spec, when the job names one
  std::optional<io::ChildSpec::Identity> backup_identity;  // its user
  engine::PutOptions backup_opts;         // its put
  engine::ThreadPool* pool = nullptr;     // restore workers; null: the restore starts its own
};

RunOutcome RunRestore(engine::Volume* volume, const JobSpec& job, const std::optional<io::ChildSpec::Identity>& identity,
                      const RestoreRequest& req, RunControl* control);

}  // namespace bv::jobs
