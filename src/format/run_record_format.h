// A job run's record in bvd's job history (docs/jobs.md): what ran, when, how it ended, and the
// tail of its standard error. Kept outside volumes, in DATA/jobs/<tenant>/history (RocksDB):
// history is not a fact of any volume.
//
// version (1) = 1, job (u16 length + bytes), attempt (4), trigger (1), result (1),
// scheduled_us (8), start_us (8), end_us (8), has_exit_status (1: 0 or 1), exit_status (4),
// bytes_in (8), bytes_stored (8), snapshot (8), error (u16 length + bytes, at most 4096),
// stderr tail (u32 length + bytes, at most 65536). Little-endian throughout.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace bv::format {

inline constexpr uint8_t kRunRecordVersion = 1;
inline constexpr size_t kRunErrorMax = 4096;
inline constexpr size_t kRunStderrMax = 64 << 10;

enum class RunTrigger : uint8_t { kSchedule = 0, kManual = 1, kRetry = 2, kMissed = 3 };
inline constexpr uint8_t kRunTriggerMax = 3;
// "schedule", "manual", "retry", "missed".
const char* RunTriggerName(RunTrigger t);
// Values of jobs::RunResult: ok, failed, timed-out, cancelled, interrupted, running.
inline constexpr uint8_t kRunResultMax = 5;

struct RunRecord {
  std::string job;
  uint32_t attempt = 1;  // 1 for the first try of a scheduled or manual run
  RunTrigger trigger = RunTrigger::kSchedule;
  uint8_t result = 0;
  int64_t scheduled_us = 0;  // the slot it ran for; 0 for a manual run
  int64_t start_us = 0;
  int64_t end_us = 0;  // 0 while it runs
  std::optional<int32_t> exit_status;
  uint64_t bytes_in = 0;
  uint64_t bytes_stored = 0;
  uint64_t snapshot = 0;
  std::string error;
  std::string stderr_tail;
  bool operator==(const RunRecord&) const = default;
};

// Cuts error and stderr_tail to their limits (stderr from the front: its end is what matters).
std::string EncodeRunRecord(const RunRecord& r);
Result<RunRecord> DecodeRunRecord(std::string_view bytes);

// History keys: job, 0x00, start_us (8, big-endian), attempt (4, big-endian): a job's runs in
// the order they started.
std::string RunKey(std::string_view job, int64_t start_us, uint32_t attempt);

}  // namespace bv::format
