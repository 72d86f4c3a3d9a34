// A verify job's run (docs/jobs.md): a share of the volume re-read per run, so that every
// segment is checked over a period (verify_share = 1/7: a week of daily runs), resuming where the
// last run stopped. Each segment in the share is checked like `bvtool verify` checks it: every
// block's checksums, every record decoded, every data block's AEAD tag. Damage is mapped to the
// snapshots it touches and its chunks are quarantined, so that the next backup holding those
// bytes stores them again. Pushes, restores and compaction go on meanwhile.
#pragma once

#include <cstdint>
#include <functional>

#include "engine/check.h"
#include "format/verify_cursor_format.h"

namespace bv::engine {

inline constexpr uint64_t kShareDenMax = 1000;

struct ShareOptions {
  // The share of the volume's bytes one run reads: num / den, in (0, 1], den ≤ kShareDenMax.
  uint64_t share_num = 1;
  uint64_t share_den = 1;
  int64_t now_us = 0;
  std::function<bool()> should_stop;  // asked between segments
};

struct ShareReport {
  uint64_t first_segment = 0;  // the segments checked: first..last (0 when none)
  uint64_t last_segment = 0;
  uint64_t segments = 0;
  uint64_t bytes = 0;          // read by this run
  uint64_t volume_bytes = 0;   // every segment's bytes when the run began
  bool pass_done = false;      // this run checked the last segment: a whole pass ended
  bool stopped = false;        // should_stop ended it early
  uint64_t quarantined = 0;    // damaged chunks now quarantined
  CheckReport check;           // segments, blocks, damage and notes
};

// Checks the segments from cursor->next_segment on, in ascending order, until the run has read
// the share (at least one segment), and moves the cursor on, wrapping after the newest segment.
// The caller keeps the cursor (it is updated even when damage is found).
Result<ShareReport> VerifyShare(Volume* v, const ShareOptions& opts, format::VerifyCursor* cursor);

}  // namespace bv::engine
