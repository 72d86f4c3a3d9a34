// The notify hook (docs/jobs.md): when a run fails for good (its last attempt failed or timed out,
// or bvd found it interrupted), the tenant's notify command runs with the run's record as one
// JSON object on its standard input, so that mail, a chat webhook or a pager can be hooked in
// without bv knowing any of them. Its output is kept for bvd's log; it gets kNotifyTimeoutS.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "format/run_record_format.h"
#include "jobs/job_spec.h"
#include "jobs/stderr_tail.h"

namespace bv::jobs {

inline constexpr uint64_t kNotifyTimeoutS = 60;

// The JSON a notify command reads: tenant, job, kind, source, attempt, attempts, trigger, result,
// scheduled, start, end (RFC 3339, UTC; null when none), exit_status, bytes_in, bytes_stored,
// snapshot (hex, or null), error, stderr_tail.
std::string RunRecordJson(const std::string& tenant, const JobSpec& job, const format::RunRecord& r);

// Runs `argv` (as bvd's user, with BV_TENANT, BV_JOB and BV_RESULT set) with `json` on its
// standard input; nullopt when it exits 0 within the timeout, else why not. Its standard output
// and error go into `output`.
std::optional<std::string> RunNotify(const std::vector<std::string>& argv, const std::string& json,
                                     const format::RunRecord& r, const std::string& tenant, StderrTail* output);

}  // namespace bv::jobs
