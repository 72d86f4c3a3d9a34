#include "engine/verify_share.h"

#include <set>

#include "engine/check_segment.h"
#include "engine/damage_map.h"
#include "engine/epoch_gate.h"

namespace bv::engine {

namespace {

// The segments a check reads: on disk and not retired by compaction, ascending.
Result<std::vector<uint64_t>> Checkable(Volume* v) {
  BV_ASSIGN_OR_RETURN(std::vector<uint64_t> files, v->segment_files()->List());
  std::set<uint64_t> retired;
  BV_RETURN_IF_ERROR(v->index()->ForEachSegment([&](uint64_t n, const SegmentState& st) {
    if (st.retired) retired.insert(n);
    return Status::Ok();
  }));
  std::vector<uint64_t> out;
  for (uint64_t n : files) {
    if (!retired.count(n)) out.push_back(n);
  }
  return out;
}

void EndPass(format::VerifyCursor* cursor, int64_t now_us) {
  cursor->passes++;
  cursor->last_pass_end_us = now_us;
  cursor->next_segment = 0;
  cursor->pass_start_us = 0;
  cursor->pass_bytes = 0;
}

}  // namespace

Result<ShareReport> VerifyShare(Volume* v, const ShareOptions& opts, format::VerifyCursor* cursor) {
  BV_ASSERT(opts.share_num > 0 && opts.share_num <= opts.share_den && opts.share_den <= kShareDenMax);
  if (!v->has_keys()) return Status::InvalidArgument("a verify job needs the volume key");
  EpochGate::Pass reading(v->reads_gate());  // a segment compaction retires meanwhile stays until this ends
  BV_ASSIGN_OR_RETURN(std::vector<uint64_t> segments, Checkable(v));
  ShareReport report;
  for (uint64_t n : segments) {
    BV_ASSIGN_OR_RETURN(uint64_t size, v->segment_files()->FileSize(n));
    report.volume_bytes += size;
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
    const uint64_t before = report.check.bytes;
    BV_RETURN_IF_ERROR(CheckSegment(v, n, n == segments.back(), check, &report.check));
    const uint64_t read = report.check.bytes - before;
    if (report.segments == 0) report.first_segment = n;
    report.last_segment = n;
    report.segments++;
    report.bytes += read;
    cursor->pass_bytes += read;
    cursor->next_segment = n + 1;
  }
  if (cursor->next_segment > segments.back()) {
    report.pass_done = true;
    EndPass(cursor, opts.now_us);
  }
  BV_RETURN_IF_ERROR(SeparateSuperseded(v, &report.check));
  BV_RETURN_IF_ERROR(MapDamageToSnapshots(v, &report.check));
  BV_RETURN_IF_ERROR(QuarantineDamagedChunks(v, report.check, &report.quarantined));
  return report;
}

}  // namespace bv::engine
