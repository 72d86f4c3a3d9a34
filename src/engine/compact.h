// Compaction: gives back the space of what no kept snapshot needs (format-spec §12). A sealed
// segment whose live share is under the threshold has the blocks still needed copied forward,
// byte for byte, into the segment being written; the index points at the copies durably; the
// segment is marked retired; once no read that began before can still be in it, its file goes.
// Segments go in groups in ascending order, so a SIGKILL at any moment leaves a volume whose next
// open and next compaction finish the job. Pushes and restores go on meanwhile.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/mark.h"
#include "engine/volume.h"

namespace bv::engine {

// A sealed segment is rewritten when less than this share of it is still needed. Rewriting a
// segment costs its live bytes in copying to free the rest (at 0.9, up to 9 bytes per byte freed),
// and what is left dead is at most a tenth of each segment kept. Measured on thirty nights of a
// real pg_dump pruned to seven (docs/performance.md, "Prune and compaction"): with 256 MiB
// segments 0.8 left the volume 1.19× a fresh one holding the seven and 0.9 1.03×; with 32 MiB
// segments both leave 1.02×. Borg compacts at the same 10% to free.
inline constexpr double kDefaultCompactThreshold = 0.9;

struct CompactOptions {
  double threshold = kDefaultCompactThreshold;  // 0 < threshold ≤ 1
  bool dry_run = false;                         // plan and report, change nothing
  uint64_t max_rate = 0;                        // bytes copied per second; 0 for no limit
  // Asked between steps; true stops the compaction where it is. What it did is durable, and the
  // next compaction goes on from there.
  std::function<bool()> should_stop;
  // After each segment removed (or left), for progress reports.
  std::function<void(const SegmentUsage&, bool removed)> on_segment;
};

struct CompactReport {
  std::vector<SegmentUsage> segments;  // every segment, as the mark found it
  std::vector<SegmentUsage> chosen;    // the ones to rewrite, ascending
  uint64_t disk_bytes = 0;             // segment files before
  uint64_t live_bytes = 0;             // still needed, at least
  uint64_t reclaimable_bytes = 0;      // what rewriting `chosen` frees: their bytes not needed
  uint64_t references = 0;             // recipe entries the mark walked
  uint64_t mark_memory_bytes = 0;      // the live set's size
  // What was done (zero in a dry run).
  uint64_t segments_removed = 0;
  uint64_t blocks_copied = 0;
  uint64_t bytes_copied = 0;
  uint64_t deletions_carried = 0;      // deletion records still needed, copied forward
  uint64_t bytes_freed = 0;            // file bytes removed, less bytes copied
  bool stopped = false;                // should_stop ended it early
  std::vector<std::string> notes;      // segments left alone, and why
};

Status CheckCompactOptions(const CompactOptions& opts);

// One compaction at a time per volume (Busy otherwise). Fails, with what and where, when the
// mark cannot read a live recipe piece: it never guesses what is live.
Result<CompactReport> Compact(Volume* volume, const CompactOptions& opts);

}  // namespace bv::engine
