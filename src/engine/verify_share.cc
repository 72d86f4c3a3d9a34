#include "engine/verify_share.h"

#include "engine/check_segment.h"
#include "engine/damage_map.h"
#include "engine/epoch_gate.h"
#include "engine/segment_files.h"

namespace bv::engine {

namespace {

void EndPass(format::VerifyCursor* cursor, int64_t now_us) {
  cursor->passes++;
  cursor->last_pass_end_us = now_us;
  cursor->next_segment = 0;
  cursor->pass_start_us = 0;
  cursor->pass_bytes = 0;
}

// One segment, under a reads-gate pass of its own, so that compaction waits for one segment's
// check at a time and not for the whole run. A segment compaction retired since the listing is
// skipped (what it held is in newer segments, which the pass reaches). One that cannot be read is
// a problem of the run, not damage: quarantining chunks over a read error would lose them.
Status VerifySegment(Volume* v, uint64_t n, bool is_last, const CheckOptions& check, ShareReport* report) {
  EpochGate::Pass reading(v->reads_gate());
  BV_ASSIGN_OR_RETURN(auto state, v->index()->GetSegment(n));
  if (state && state->retired) return Status::Ok();
  const uint64_t before = report->check.bytes;
  if (Status s = CheckSegment(v, n, is_last, check, &report->check); !s.ok()) {
    // Compaction removes a segment's file only after it is retired; a state read just before the
    // retirement cannot know that. The next run's missing-segment check sees any other loss.
    if (!v->env()->PathExists(v->segment_files()->Path(n))) return Status::Ok();
    report->check.problems.push_back(SegmentFiles::Name(n) + ": could not be checked: " + s.message());
  }
  if (report->segments == 0) report->first_segment = n;
  report->last_segment = n;
  report->segments++;
  report->bytes += report->check.bytes - before;
  return Status::Ok();
}

}  // namespace

Result<ShareReport> VerifyShare(Volume* v, const ShareOptions& opts, format::VerifyCursor* cursor) {
  BV_ASSERT(opts.share_num > 0 && opts.share_num <= opts.share_den && opts.share_den <= kShareDenMax);
  if (!v->has_keys()) return Status::InvalidArgument("a verify job needs the volume key");
  ShareReport report;
  std::vector<uint64_t> segments;  // on disk and not retired, ascending
  {
    // Files are not removed while this pass lasts; the index is read before the directory.
    EpochGate::Pass reading(v->reads_gate());
    BV_ASSIGN_OR_RETURN(auto states, SegmentStates(v));
    BV_ASSIGN_OR_RETURN(auto files, v->segment_files()->List());
    BV_RETURN_IF_ERROR(FindMissingSegments(v, states, files, &report.check));
    for (uint64_t n : files) {
      auto st = states.find(n);
      if (st != states.end() && st->second.retired) continue;
      BV_ASSIGN_OR_RETURN(uint64_t size, v->segment_files()->FileSize(n));
      report.volume_bytes += size;
      segments.push_back(n);
    }
  }
  if (segments.empty()) return report;
  // A pass whose remaining segments all went (compaction) ended with the last one it checked.
  if (cursor->next_segment > segments.back()) EndPass(cursor, opts.now_us);
  if (cursor->pass_start_us == 0) cursor->pass_start_us = opts.now_us;
  // ceil(volume_bytes · num / den) without overflow: den ≤ kShareDenMax.
  const uint64_t den = opts.share_den, num = opts.share_num;
  const uint64_t target = report.volume_bytes / den * num + ((report.volume_bytes % den) * num + den - 1) / den;
  CheckOptions check;
  check.decode_data = true;
  for (uint64_t n : segments) {
    if (n < cursor->next_segment) continue;
    if (report.segments > 0 && (report.bytes >= target || (opts.should_stop && opts.should_stop()))) {
      report.stopped = report.bytes < target;
      break;
    }
    const uint64_t before = report.bytes;
    BV_RETURN_IF_ERROR(VerifySegment(v, n, n == segments.back(), check, &report));
    cursor->pass_bytes += report.bytes - before;
    cursor->next_segment = n + 1;
  }
  if (cursor->next_segment > segments.back()) {
    report.pass_done = true;
    EndPass(cursor, opts.now_us);
  }
  EpochGate::Pass reading(v->reads_gate());
  BV_RETURN_IF_ERROR(SeparateSuperseded(v, &report.check));
  BV_RETURN_IF_ERROR(MapDamageToSnapshots(v, &report.check));
  BV_RETURN_IF_ERROR(QuarantineDamagedChunks(v, report.check, &report.quarantined));
  return report;
}

}  // namespace bv::engine
