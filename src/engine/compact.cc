#include "engine/compact.h"

#include <algorithm>

#include "engine/sweep.h"

namespace bv::engine {

namespace {

bool Stop(const CompactOptions& opts) { return opts.should_stop && opts.should_stop(); }

// Lifts the fence however the compaction ends.
class FenceHold {
 public:
  FenceHold(Volume* v, const std::vector<uint64_t>& segments) : v_(v) { v_->Fence(segments); }
  ~FenceHold() { v_->Fence({}); }
  FenceHold(const FenceHold&) = delete;
  FenceHold& operator=(const FenceHold&) = delete;

 private:
  Volume* v_;
};

// Counts as a put in the lane while it copies: a put that fails alone then leaves the tail,
// with the copies in it, to the next sync point instead of cutting it.
class LaneUse {
 public:
  explicit LaneUse(AppendLane* lane) : lane_(lane) { lane_->BeginPut(); }
  ~LaneUse() { lane_->EndPut(); }
  LaneUse(const LaneUse&) = delete;
  LaneUse& operator=(const LaneUse&) = delete;

 private:
  AppendLane* lane_;
};

void Plan(const MarkResult& mark, const CompactOptions& opts, uint64_t segment_size, CompactReport* r) {
  r->segments = mark.segments;
  r->references = mark.references;
  r->mark_memory_bytes = mark.live->memory_bytes();
  r->chosen.clear();
  r->disk_bytes = r->live_bytes = r->reclaimable_bytes = 0;
  for (size_t i = 0; i < mark.segments.size(); i++) {
    const SegmentUsage& u = mark.segments[i];
    r->disk_bytes += u.file_bytes;
    r->live_bytes += std::min(u.live_bytes, u.file_bytes);
    const bool last = i + 1 == mark.segments.size();
    if ((u.sealed || (last && u.file_bytes >= segment_size / 4)) && u.live_fraction() < opts.threshold) {
      r->chosen.push_back(u);
      r->reclaimable_bytes += u.file_bytes - std::min(u.live_bytes, u.file_bytes);
    }
  }
}

// Files of segments retired by a compaction that stopped before it could remove them [CMP-5].
// Returns false when it stopped first.
Result<bool> RemoveLeftRetired(Volume* v, const CompactOptions& opts) {
  BV_ASSIGN_OR_RETURN(std::vector<uint64_t> files, v->segment_files()->List());
  std::vector<uint64_t> left;
  for (uint64_t n : files) {
    BV_ASSIGN_OR_RETURN(auto state, v->index()->GetSegment(n));
    if (state && state->retired) left.push_back(n);
  }
  if (left.empty()) return true;
  if (!v->reads_gate()->WaitFor(v->reads_gate()->Advance(), opts.should_stop)) return false;
  BV_RETURN_IF_ERROR(v->RemoveRetired(left));
  return true;
}

// [CMP-1] The segment being written, when chosen, is sealed first; one that is not the writer's
// any more (another writer took over since the mark) is left for the next run.
Status SealChosen(Volume* v, CompactReport* r) {
  if (r->chosen.empty() || r->chosen.back().sealed) return Status::Ok();
  BV_ASSIGN_OR_RETURN(AppendLane::Guard lane, v->lane()->Lock());
  BV_ASSIGN_OR_RETURN(bool sealed, lane.Seal(r->chosen.back().segment));
  if (!sealed) {
    r->reclaimable_bytes -= r->chosen.back().file_bytes - std::min(r->chosen.back().live_bytes, r->chosen.back().file_bytes);
    r->chosen.pop_back();
    return Status::Ok();
  }
  r->chosen.back().sealed = true;
  return Status::Ok();
}

}  // namespace

Status CheckCompactOptions(const CompactOptions& opts) {
  if (!(opts.threshold > 0 && opts.threshold <= 1)) {
    return Status::InvalidArgument("the threshold must be above 0% and at most 100%");
  }
  return Status::Ok();
}

Result<CompactReport> Compact(Volume* volume, const CompactOptions& opts) {
  BV_RETURN_IF_ERROR(CheckCompactOptions(opts));
  CompactReport report;
  if (opts.dry_run) {  // only reads: beside a running compaction too
    BV_ASSIGN_OR_RETURN(MarkResult planned, Mark(volume));
    Plan(planned, opts, volume->params().segment_size, &report);
    return report;
  }
  std::unique_lock hold(*volume->compact_mutex(), std::try_to_lock);
  if (!hold.owns_lock()) return Status::Busy("a compaction of this volume is running already");
  {
    BV_RETURN_IF_ERROR(volume->lane()->Lock().status());  // a volume opened to read fails here
    BV_ASSIGN_OR_RETURN(bool tombstones_complete, volume->index()->TombstonesComplete());
    if (!tombstones_complete) {
      return Status::InvalidArgument(
          "the index of " + volume->dir() + " predates tombstones, so it cannot tell which deletion records "
          "are still needed: run `bvtool fsck --rebuild-index` on it once, then compact");
    }
    BV_ASSIGN_OR_RETURN(bool done, RemoveLeftRetired(volume, opts));
    if (!done) {
      report.stopped = true;
      return report;
    }
  }
  const std::optional<uint64_t> puts_before = volume->puts_gate()->EnteredIfEmpty();
  BV_ASSIGN_OR_RETURN(MarkResult planned, Mark(volume));
  Plan(planned, opts, volume->params().segment_size, &report);
  if (report.chosen.empty()) return report;
  BV_RETURN_IF_ERROR(SealChosen(volume, &report));
  if (report.chosen.empty()) return report;
  std::vector<uint64_t> chosen;
  for (const SegmentUsage& u : report.chosen) chosen.push_back(u.segment);
  // [CMP-2] From here on no put deduplicates against a chunk in a chosen segment; the puts that
  // began before may have, and their references reach the index when they end: wait for them,
  // then mark again. That second mark is the one that decides. When no put was under way at any
  // moment from before the first mark until the fence, the first one decides.
  FenceHold fence(volume, chosen);
  MarkResult mark = std::move(planned);
  if (!puts_before || volume->puts_gate()->EnteredIfEmpty() != puts_before) {
    if (!volume->puts_gate()->WaitFor(volume->puts_gate()->Advance(), opts.should_stop)) {
      report.stopped = true;
      return report;
    }
    BV_ASSIGN_OR_RETURN(mark, Mark(volume));
  }
  LaneUse use(volume->lane());
  Sweeper sweeper(volume, *mark.live, opts, &report);
  // The chosen segments as the deciding mark measured them.
  std::vector<SegmentUsage> chosen_now;
  for (const SegmentUsage& planned : report.chosen) {
    auto it = std::lower_bound(mark.segments.begin(), mark.segments.end(), planned.segment,
                               [](const SegmentUsage& u, uint64_t n) { return u.segment < n; });
    chosen_now.push_back(it != mark.segments.end() && it->segment == planned.segment ? *it : planned);
  }
  for (const std::vector<SegmentUsage>& group : Sweeper::Groups(chosen_now)) {
    if (Stop(opts)) {
      report.stopped = true;
      break;
    }
    BV_ASSIGN_OR_RETURN(std::vector<uint64_t> removed, sweeper.Sweep(group));
    if (Stop(opts)) report.stopped = true;
    for (const SegmentUsage& u : group) {
      if (opts.on_segment) opts.on_segment(u, std::find(removed.begin(), removed.end(), u.segment) != removed.end());
    }
    if (report.stopped) break;
  }
  return report;
}

}  // namespace bv::engine
