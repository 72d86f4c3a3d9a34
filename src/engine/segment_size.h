// The segment size of a new volume (a volume keeps the size it was made with; `bvtool init
// --segment-mib`, a tenant's `segment_mib`).
#pragma once

#include <cstdint>

namespace bv::engine {

// Compaction rewrites or removes whole sealed segments. At 32 MiB the nights a retention policy
// drops fill segments of their own, which compaction removes without copying, and the one segment
// shared with a kept night is small to copy: on thirty nights of a real pg_dump pruned to seven,
// compaction took 0.25 s at 32 MiB against 0.72 s at 256 MiB (copying 1 MiB against 185 MiB), for
// the same bytes left (docs/performance.md, "Prune and compaction"); ingest and restore measured
// the same at both.
inline constexpr uint64_t kDefaultSegmentSize = 32ull << 20;

}  // namespace bv::engine
