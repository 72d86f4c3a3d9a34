#include "jobs/maintenance_run.h"

#include "base/human_bytes.h"
#include "base/time_format.h"
#include "engine/compact.h"
#include "engine/segment_files.h"
#include "engine/verify_share.h"
#include "format/snapshot_format.h"
#include "jobs/run_support.h"

namespace bv::jobs {

namespace {

// The sources of `job` that have snapshots now (a configured source may have none yet).
Result<std::vector<std::string>> SourcesWithSnapshots(engine::Volume* volume, const JobSpec& job, std::string* report) {
  std::vector<std::string> out;
  for (const std::string& s : job.sources) {
    bool any = false;
    BV_RETURN_IF_ERROR(volume->index()->ForEachSnapshot(s, [&](const engine::SnapshotEntry&) {
      any = true;
      return false;
    }));
    if (any) {
      out.push_back(s);
    } else {
      *report += s + ": no snapshots\n";
    }
  }
  return out;
}

// A maintenance run stops between steps, keeping what it did: not killed, as a command is.
RunOutcome Stopped(RunControl* control, const JobSpec& job, RunOutcome o) {
  if (auto why = control->stopped()) {
    o.result = *why;
    o.error = why == RunResult::kTimedOut ? "the run outlived its timeout of " + std::to_string(job.timeout_s) +
                                                " s and stopped; what it did is kept, and the next run goes on from there"
              : why == RunResult::kInterrupted ? "bvd stopped during the run, which stopped; what it did is kept"
                                               : "the run was cancelled; what it did is kept";
  }
  return o;
}

// What damage a verify found, one line each: where, what, and the snapshots it costs.
std::string DamageText(const engine::CheckReport& c) {
  std::string out;
  for (const engine::Damage& d : c.damage) {
    out += engine::SegmentFiles::Name(d.segment) + " offset " + std::to_string(d.offset) + ".." +
           std::to_string(d.end) + ": " + d.what;
    std::string snaps;
    for (uint64_t s : d.snapshots) snaps += (snaps.empty() ? "" : ", ") + format::SnapshotIdHex(s);
    out += snaps.empty() ? "; no snapshot needs it\n" : "; snapshots " + snaps + "\n";
  }
  for (const std::string& p : c.problems) out += p + "\n";
  return out;
}

}  // namespace

RunOutcome RunPruneJob(engine::Volume* volume, const JobSpec& job, const PruneSources& prune, RunControl* control) {
  RunWatch watch(control, job.timeout_s);
  RunOutcome o;
  std::vector<std::string> sources;
  if (!job.sources.empty()) {
    auto named = SourcesWithSnapshots(volume, job, &o.stderr_tail);
    if (!named.ok()) {
      o.error = "prune: " + named.status().message();
      return o;
    }
    sources = std::move(*named);
  }
  if (!job.sources.empty() && sources.empty()) {
    o.stderr_tail += "nothing to prune\n";
  } else {
    auto removed = prune(sources, &o.stderr_tail);
    if (!removed.ok()) {
      o.error = "prune: " + removed.status().message();
      return o;
    }
    o.stderr_tail += "pruned " + std::to_string(*removed) + " snapshots\n";
  }
  if (!job.compact || control->stopped()) {
    o.result = RunResult::kOk;
    return Stopped(control, job, std::move(o));
  }
  engine::CompactOptions opts;
  if (job.compact_threshold > 0) opts.threshold = job.compact_threshold;
  opts.max_rate = job.compact_max_rate;
  opts.should_stop = [control] { return control->stopped().has_value(); };
  auto c = engine::Compact(volume, opts);
  if (!c.ok()) {
    o.error = "the prune is done; compaction failed: " + c.status().message();
    return o;
  }
  for (const std::string& note : c->notes) o.stderr_tail += note + "\n";
  o.stderr_tail += "compaction rewrote " + std::to_string(c->segments_removed) + " of " +
                   std::to_string(c->chosen.size()) + " chosen segments, copied " + HumanBytes(c->bytes_copied) +
                   " and freed " + HumanBytes(c->bytes_freed) + "; before it the volume was " +
                   HumanBytes(c->disk_bytes) + ", of which " + HumanBytes(c->live_bytes) + " was needed\n";
  o.result = RunResult::kOk;
  return Stopped(control, job, std::move(o));
}

RunOutcome RunVerifyJob(engine::Volume* volume, const JobSpec& job, JobHistory* history, RunControl* control) {
  RunWatch watch(control, job.timeout_s);
  RunOutcome o;
  format::VerifyCursor cursor;
  auto kept = history->GetState(job.name);
  if (kept.ok() && *kept) {
    auto c = format::DecodeVerifyCursor(**kept);
    if (c.ok()) cursor = *c;
    // A damaged cursor costs a re-read from the first segment, nothing else.
    if (!c.ok()) o.stderr_tail += "the cursor kept for this job is damaged (" + c.status().message() + "); starting over\n";
  }
  if (!kept.ok()) {
    o.error = kept.status().message();
    return o;
  }
  engine::ShareOptions opts;
  opts.share_num = job.share_num;
  opts.share_den = job.share_den;
  opts.now_us = NowMicros();
  opts.should_stop = [control] { return control->stopped().has_value(); };
  auto r = engine::VerifyShare(volume, opts, &cursor);
  if (!r.ok()) {
    o.error = "verify: " + r.status().message();
    return o;
  }
  if (r->pass_done) cursor.last_pass_end_us = NowMicros();
  if (Status s = history->PutState(job.name, format::EncodeVerifyCursor(cursor)); !s.ok()) {
    o.stderr_tail += "the cursor could not be kept (" + s.message() + "); the next run reads this share again\n";
  }
  o.bytes_in = r->bytes;
  o.stderr_tail += r->segments == 0 ? std::string("the volume has no segments\n")
                                    : "checked segments " + std::to_string(r->first_segment) + ".." +
                                          std::to_string(r->last_segment) + ": " +
                                          std::to_string(r->segments) + " segments, " + std::to_string(r->check.blocks) +
                                          " blocks, " + HumanBytes(r->bytes) + " of " + HumanBytes(r->volume_bytes) + "\n";
  o.stderr_tail += r->pass_done ? "a whole pass over the volume ended; pass " + std::to_string(cursor.passes) + " done\n"
                                : "this pass has checked " + HumanBytes(cursor.pass_bytes) + " since " +
                                      FormatTime(cursor.pass_start_us) + "\n";
  for (const std::string& note : r->check.notes) o.stderr_tail += note + "\n";
  if (!r->check.clean()) {
    o.stderr_tail += DamageText(r->check);
    o.error = "verify found " + std::to_string(r->check.damage.size()) + " damaged ranges and " +
              std::to_string(r->check.problems.size()) + " problems; " + std::to_string(r->quarantined) +
              " chunks quarantined (the next backup holding them stores them again)";
    o.retry = false;  // a retry would check the next share and could end the run ok
    return o;
  }
  o.result = RunResult::kOk;
  return Stopped(control, job, std::move(o));
}

}  // namespace bv::jobs
