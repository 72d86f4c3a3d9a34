#include "format/run_record_format.h"

#include "format/coding.h"

namespace bv::format {

namespace {

Status Bad(size_t off, const std::string& why) {
  return Status::Corruption("job run record at byte " + std::to_string(off) + ": " + why);
}

}  // namespace

const char* RunTriggerName(RunTrigger t) {
  switch (t) {
    case RunTrigger::kSchedule:
      return "schedule";
    case RunTrigger::kManual:
      return "manual";
    case RunTrigger::kRetry:
      return "retry";
    case RunTrigger::kMissed:
      return "missed";
  }
  return "?";
}

std::string EncodeRunRecord(const RunRecord& r) {
  BV_ASSERT(!r.job.empty() && r.job.size() <= 64 && r.result <= kRunResultMax);
  std::string s;
  PutFixed8(&s, kRunRecordVersion);
  PutString16(&s, r.job);
  PutFixed32(&s, r.attempt);
  PutFixed8(&s, static_cast<uint8_t>(r.trigger));
  PutFixed8(&s, r.result);
  PutFixed64(&s, static_cast<uint64_t>(r.scheduled_us));
  PutFixed64(&s, static_cast<uint64_t>(r.start_us));
  PutFixed64(&s, static_cast<uint64_t>(r.end_us));
  PutFixed8(&s, r.exit_status ? 1 : 0);
  PutFixed32(&s, static_cast<uint32_t>(r.exit_status.value_or(0)));
  PutFixed64(&s, r.bytes_in);
  PutFixed64(&s, r.bytes_stored);
  PutFixed64(&s, r.snapshot);
  PutString16(&s, std::string_view(r.error).substr(0, kRunErrorMax));
  const std::string_view tail =
      r.stderr_tail.size() > kRunStderrMax ? std::string_view(r.stderr_tail).substr(r.stderr_tail.size() - kRunStderrMax)
                                           : std::string_view(r.stderr_tail);
  PutFixed32(&s, static_cast<uint32_t>(tail.size()));
  s.append(tail);
  return s;
}

Result<RunRecord> DecodeRunRecord(std::string_view bytes) {
  Decoder d(bytes);
  RunRecord r;
  uint8_t u8 = 0, trigger = 0, has_exit = 0;
  uint32_t u32 = 0;
  uint64_t scheduled = 0, start = 0, end = 0;
  std::string_view sv;
  if (!d.GetFixed8(&u8)) return Bad(0, "truncated before version");
  if (u8 != kRunRecordVersion) return Bad(0, "unknown version " + std::to_string(u8));
  size_t off = d.offset();
  if (!d.GetString16(&sv)) return Bad(off, "truncated job name");
  if (sv.empty() || sv.size() > 64) return Bad(off, "job name of " + std::to_string(sv.size()) + " bytes (1 to 64)");
  r.job = sv;
  off = d.offset();
  if (!d.GetFixed32(&r.attempt) || !d.GetFixed8(&trigger) || !d.GetFixed8(&r.result)) return Bad(off, "truncated");
  if (r.attempt == 0) return Bad(off, "attempt 0");
  if (trigger > kRunTriggerMax) return Bad(off + 4, "unknown trigger " + std::to_string(trigger));
  if (r.result > kRunResultMax) return Bad(off + 5, "unknown result " + std::to_string(r.result));
  r.trigger = static_cast<RunTrigger>(trigger);
  off = d.offset();
  if (!d.GetFixed64(&scheduled) || !d.GetFixed64(&start) || !d.GetFixed64(&end)) return Bad(off, "truncated times");
  r.scheduled_us = static_cast<int64_t>(scheduled);
  r.start_us = static_cast<int64_t>(start);
  r.end_us = static_cast<int64_t>(end);
  off = d.offset();
  if (!d.GetFixed8(&has_exit) || !d.GetFixed32(&u32)) return Bad(off, "truncated exit status");
  if (has_exit > 1) return Bad(off, "exit status flag " + std::to_string(has_exit) + " (0 or 1)");
  if (has_exit == 1) r.exit_status = static_cast<int32_t>(u32);
  if (has_exit == 0 && u32 != 0) return Bad(off + 1, "an exit status without its flag");
  off = d.offset();
  if (!d.GetFixed64(&r.bytes_in) || !d.GetFixed64(&r.bytes_stored) || !d.GetFixed64(&r.snapshot)) {
    return Bad(off, "truncated byte counts");
  }
  off = d.offset();
  if (!d.GetString16(&sv)) return Bad(off, "truncated error");
  if (sv.size() > kRunErrorMax) return Bad(off, "error of " + std::to_string(sv.size()) + " bytes (at most 4096)");
  r.error = sv;
  off = d.offset();
  if (!d.GetFixed32(&u32)) return Bad(off, "truncated stderr length");
  if (u32 > kRunStderrMax) return Bad(off, "stderr tail of " + std::to_string(u32) + " bytes (at most 65536)");
  if (!d.GetBytes(u32, &sv)) return Bad(off, "truncated stderr tail");
  r.stderr_tail = sv;
  if (d.remaining() != 0) return Bad(d.offset(), "trailing bytes");
  return r;
}

std::string RunKey(std::string_view job, int64_t start_us, uint32_t attempt) {
  std::string k(job);
  k.push_back('\0');
  PutBigEndian64(&k, static_cast<uint64_t>(start_us));
  for (int i = 3; i >= 0; i--) k.push_back(static_cast<char>(attempt >> (8 * i)));
  return k;
}

}  // namespace bv::format
