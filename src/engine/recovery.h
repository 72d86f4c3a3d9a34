// Bringing the index up to date from the segments: after a crash (the unindexed tail of each
// unsealed segment), and from nothing (`fsck --rebuild-index`). One code path for both.
#pragma once

#include <string>
#include <vector>

#include "engine/index.h"
#include "engine/segment_files.h"
#include "format/segment_format.h"

namespace bv::engine {

struct RecoveryReport {
  uint64_t segments_scanned = 0;
  uint64_t blocks_applied = 0;
  uint64_t snapshots_found = 0;
  uint64_t truncated_bytes = 0;  // torn tail cut from the last segment
  std::vector<std::string> notes;
  bool damaged = false;    // damage was noted (only when !stop_at_damage)
  bool torn_tail = false;  // the last segment ends in a torn tail that was left in place
  // The last segment is not one to append to (its header is damaged): a writer starts a new one.
  bool last_segment_closed = false;
};

struct RecoverMode {
  // Cut a torn tail off the last segment (nothing in it was acknowledged), and remove a last
  // segment that was created but never written. Only a writer does; a reader notes them.
  bool truncate_torn_tail = true;
  // Fail on damage; otherwise note it in the report, index what is valid, and go on. Damage is
  // worked around by default (every command, bvd too): the snapshots it does not touch stay
  // readable and the volume keeps taking backups.
  bool stop_at_damage = false;
  // The index was made just now from nothing (a rebuild): it does not say how far the last
  // segment was acknowledged, so only a tail with no valid block after it is torn [SCAN-5].
  bool index_is_new = false;
};

// Quarantines (format-spec [DMG-1]) every chunk the index places in `segment` whose block does not
// end within its first `size` bytes: the file is gone (size 0) or was cut short. *count says how
// many.
Status QuarantineBeyond(Index* index, uint64_t segment, uint64_t size, uint64_t* count);

// Applies every segment's unindexed blocks to the index. On return *last_segment / *last_state
// say where a writer continues (0 when there is none).
Status Recover(SegmentFiles* files, const format::VolumeParams& params, Index* index, const RecoverMode& mode,
               RecoveryReport* report, uint64_t* last_segment, SegmentState* last_state);

}  // namespace bv::engine
