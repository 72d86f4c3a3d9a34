// What a job is (docs/jobs.md). A backup job: its source, the commands whose output are its
// streams. A restore job: the command that reads a snapshot's stream back (into a database, a
// directory), optionally a backup job run first as a safety copy, and a check run after; on a
// schedule it is a restore drill, against the newest snapshot of its source. A prune job and a
// verify job look after the tenant's volume. All: when they run, how their commands run, and
// what happens when a run fails. Read from bvd's configuration.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "jobs/cron_schedule.h"

namespace bv::jobs {

inline constexpr size_t kJobsPerTenantMax = 1000;
inline constexpr size_t kStreamsPerJobMax = 64;
inline constexpr size_t kStderrTailBytes = 64 << 10;  // of each run, in its record
inline constexpr uint32_t kAttemptsMax = 100;

struct StreamSpec {
  std::string name;               // the stream's name in the snapshot
  std::vector<std::string> argv;  // `sh -c TEXT` when the job asked for a shell
};

// backup, restore (a drill on a schedule), and the maintenance of the tenant's volume: prune then
// compact, and verify.
enum class JobKind { kBackup, kRestore, kPrune, kVerify };
// "backup", "restore", "prune", "verify".
const char* JobKindName(JobKind kind);

struct JobSpec {
  JobKind kind = JobKind::kBackup;
  std::string name;    // 1 to 64 of a-z, 0-9, '_', '-' and '.'
  std::string source;  // the snapshots' source
  std::vector<StreamSpec> streams;  // a backup's
  // A restore's: the stream it restores ("" the first), the command that reads it on its standard
  // input, the check run after it (none: empty), and the backup job run before it (none: "").
  std::string stream;
  std::vector<std::string> consumer;
  std::vector<std::string> check;
  std::string backup_first;
  std::vector<std::string> env;  // "NAME=value", added to bvd's environment
  std::string dir;               // working directory; empty: bvd's
  std::string user;              // run as this user (bvd must be root); empty: as bvd
  std::optional<CronSchedule> schedule;  // none: runs only when asked (RUN-JOB)
  std::string zone = "UTC";
  uint64_t jitter_s = 0;         // a random delay of up to this after each scheduled time
  uint64_t timeout_s = 86400;    // a run still going after this is killed and fails
  // Attempts of one scheduled run: 1 + retries. Between attempt n and n+1 a random delay in
  // [0, min(retry_delay_max, retry_delay · 2^(n-1))] ("full jitter").
  uint32_t attempts = 1;
  uint64_t retry_delay_s = 30;
  uint64_t retry_delay_max_s = 3600;
  bool prune = false;  // after a good run, apply the source's retention policy
  // A prune job's: the sources whose retention policies it applies (empty: every source), then
  // a compaction unless compact is false, rewriting segments under compact_threshold live
  // (0: the default) at up to compact_max_rate bytes per second (0: no limit).
  std::vector<std::string> sources;
  bool compact = true;
  double compact_threshold = 0;
  uint64_t compact_max_rate = 0;
  // A verify job's: the share of the volume one run re-reads, num / den.
  uint64_t share_num = 1;
  uint64_t share_den = 1;
};

// Job names: 1 to 64 of a-z, 0-9, '_', '-' and '.', starting with a letter or digit.
Status ValidateJobName(std::string_view name);

}  // namespace bv::jobs
