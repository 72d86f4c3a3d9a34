// The mark half of compaction (format-spec §12): which chunks are live, and how many bytes of
// each segment are still needed. Live means referenced by a recipe piece of a kept snapshot or of
// a resumable push session (a session's pieces up to its last sync; what it sends after a resume
// is looked up again). Puts in flight are compaction's to wait for, not the mark's.
#pragma once

#include <memory>
#include <vector>

#include "engine/live_set.h"
#include "engine/volume.h"

namespace bv::engine {

struct SegmentUsage {
  uint64_t segment = 0;
  uint64_t file_bytes = 0;
  // Bytes of the blocks still needed: live data blocks the index points at, the recipe pieces
  // and commit blocks of kept snapshots and sessions. At least the true figure (LiveSet).
  uint64_t live_bytes = 0;
  bool sealed = false;
  // Of the bytes after the header, the share still needed.
  double live_fraction() const;
};

struct MarkResult {
  std::unique_ptr<LiveSet> live;
  std::vector<SegmentUsage> segments;  // every segment file but retired ones, ascending
  uint64_t references = 0;             // recipe entries walked
  uint64_t recipe_pieces = 0;          // live pieces read
};

// Whether the recipe pieces filed under `snapshot` are live: a kept snapshot's or a session's.
Result<bool> RecipesLive(Index* index, uint64_t snapshot);

// Reads every live recipe piece once, sequentially by snapshot. Fails, changing nothing, when a
// live piece does not read: a mark that skipped it would call its chunks dead.
Result<MarkResult> Mark(Volume* volume);

}  // namespace bv::engine
