// Where a stream's blocks are stored, for whoever reads or ships them as they are: each chunk of
// the recipe located through the index (a quarantined or unknown chunk is an error that names the
// place), its location checked against the format's limits, and for shipping, the segment file
// that holds it, open to splice to a socket (GET format=blocks, docs/protocol.md §7.1).
#pragma once

#include <functional>
#include <optional>

#include "engine/recipe_walk.h"
#include "engine/volume.h"

namespace bv::engine {

// The block of chunk `c` of `snapshot`'s stream `stream`.
Result<Location> LocateChunk(Volume* volume, const SnapshotEntry& snapshot, uint16_t stream, const ChunkRef& c);

// Calls `fn` for every chunk of the stream that overlaps `range` (all without one), in stream
// order, with its block's location and the segment file (not O_DIRECT) that holds it. The
// blocks' bytes are not read here: the caller ships or checks them.
using StoredBlockFn = std::function<Status(const ChunkRef& c, io::File* file, const Location& where)>;
Status ForEachStoredBlock(Volume* volume, const SnapshotEntry& snapshot, uint16_t stream,
                          const std::optional<ByteRange>& range, size_t read_window, const StoredBlockFn& fn);

}  // namespace bv::engine
