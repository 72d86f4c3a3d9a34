#include "jobs/notify.h"

#include <nlohmann/json.hpp>

#include <thread>

#include "base/time_format.h"
#include "format/snapshot_format.h"
#include "jobs/run_support.h"

namespace bv::jobs {

namespace {

nlohmann::json TimeOrNull(int64_t us) { return us == 0 ? nlohmann::json(nullptr) : nlohmann::json(FormatTime(us)); }

}  // namespace

std::string RunRecordJson(const std::string& tenant, const JobSpec& job, const format::RunRecord& r) {
  nlohmann::json j = {
      {"tenant", tenant},
      {"job", r.job},
      {"kind", JobKindName(job.kind)},
      {"source", job.source.empty() ? nlohmann::json(nullptr) : nlohmann::json(job.source)},
      {"attempt", r.attempt},
      {"attempts", job.attempts},
      {"trigger", format::RunTriggerName(r.trigger)},
      {"result", RunResultName(static_cast<RunResult>(r.result))},
      {"scheduled", TimeOrNull(r.scheduled_us)},
      {"start", TimeOrNull(r.start_us)},
      {"end", TimeOrNull(r.end_us)},
      {"exit_status", r.exit_status ? nlohmann::json(*r.exit_status) : nlohmann::json(nullptr)},
      {"bytes_in", r.bytes_in},
      {"bytes_stored", r.bytes_stored},
      {"snapshot", r.snapshot != 0 ? nlohmann::json(format::SnapshotIdHex(r.snapshot)) : nlohmann::json(nullptr)},
      {"error", r.error},
      {"stderr_tail", r.stderr_tail},
  };
  // Bytes a command wrote need not be UTF-8; JSON text must be: invalid sequences become U+FFFD.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::optional<std::string> RunNotify(const std::vector<std::string>& argv, const std::string& json,
                                     const format::RunRecord& r, const std::string& tenant, StderrTail* output) {
  JobSpec as;
  as.timeout_s = kNotifyTimeoutS;
  as.env = {"BV_TENANT=" + tenant, "BV_JOB=" + r.job,
            std::string("BV_RESULT=") + RunResultName(static_cast<RunResult>(r.result))};
  io::ChildSpec spec = CommandOf(as, argv, std::nullopt);
  spec.in = io::ChildSpec::In::kPipe;
  RunControl control;
  RunWatch watch(&control, kNotifyTimeoutS);
  auto failed = RunToEnd(spec, &control, output, json);
  if (control.stopped()) return "the notify command outlived " + std::to_string(kNotifyTimeoutS) + " s and was killed";
  if (failed) return failed->error;
  return std::nullopt;
}

}  // namespace bv::jobs
