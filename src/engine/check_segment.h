// One segment of a check (`fsck`, `verify`, a verify job's share): every block read and its
// checksums checked, records decoded, data blocks' tags checked when asked, and what is damaged
// put in the report with the chunks the index places there.
#pragma once

#include <optional>

#include "engine/check.h"

namespace bv::engine {

// `is_last`: the volume's newest segment, whose unacknowledged tail (past what the index
// recorded) is a dead writer's, or a live writer's, and not damage.
Status CheckSegment(Volume* v, uint64_t num, bool is_last, const CheckOptions& opts, CheckReport* report);

// Fills d->chunks: the chunk ids the index places in [d->offset, d->end) of d->segment, plus
// `header_id` (the id in a readable header there).
Status ChunksInRange(Volume* v, Damage* d, const std::optional<format::Id>& header_id);

}  // namespace bv::engine
