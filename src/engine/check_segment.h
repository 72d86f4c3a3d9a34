// One segment of a check (`fsck`, `verify`, a verify job's share): every block read and its
// checksums checked, records decoded, data blocks' tags checked when asked, and what is damaged
// put in the report with the chunks the index places there.
#pragma once

#include <map>
#include <optional>
#include <vector>

#include "engine/check.h"

namespace bv::engine {

// `is_last`: the volume's newest segment, whose unacknowledged tail (past what the index
// recorded) is a dead writer's, or a live writer's, and not damage.
Status CheckSegment(Volume* v, uint64_t num, bool is_last, const CheckOptions& opts, CheckReport* report);

// Fills d->chunks: the chunk ids the index places in [d->offset, d->end) of d->segment, plus
// `header_id` (the id in a readable header there).
Status ChunksInRange(Volume* v, Damage* d, const std::optional<format::Id>& header_id);

// Every segment's state in the index, by number.
Result<std::map<uint64_t, SegmentState>> SegmentStates(Volume* v);

// Damage for each segment the index has (not retired) whose file is not among `files`, and for
// each number below the highest that neither has and compaction did not remove. `states` must
// have been read before `files` was listed.
Status FindMissingSegments(Volume* v, const std::map<uint64_t, SegmentState>& states,
                           const std::vector<uint64_t>& files, CheckReport* report);

}  // namespace bv::engine
