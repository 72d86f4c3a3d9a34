// What each source of a volume holds, for `df`: its kept snapshots, the bytes they restore to,
// the bytes each wrote new when it was taken, and what its snapshots need on disk now: all the
// chunks they reference (shared ones counted in every source that references them, as restic's
// `stats --mode raw-data` counts them per host) and the chunks no other source references (Borg's
// "deduplicated size": what pruning every snapshot of the source, then compacting, would free).
//
// A chunk that no kept snapshot references any more belongs to no source: the compaction debt is
// a figure of the tenant alone.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "engine/volume.h"

namespace bv::engine {

struct SourceUsage {
  uint64_t snapshots = 0;
  uint64_t logical_bytes = 0;
  uint64_t new_bytes = 0;
  // Stored bytes (block headers included, as `live`) of the distinct chunks its kept snapshots
  // reference, and of those that no other source's kept snapshots reference. Both are counted
  // through Bloom filters (engine/live_set.h), so memory stays flat as the store grows: about 1
  // chunk in 100 may be missed in `stored_bytes`, and `unique_bytes` may miss chunks or, as
  // rarely, count a shared one.
  uint64_t stored_bytes = 0;
  uint64_t unique_bytes = 0;
};

// Reads the recipe pieces of every kept snapshot twice, one source at a time. Fails when a piece
// does not read (`bvtool fsck` names it).
Result<std::map<std::string, SourceUsage>> UsageBySource(Volume* volume);

}  // namespace bv::engine
