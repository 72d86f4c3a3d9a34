// The chunks of one stream of a snapshot, in order, from its recipe pieces: what a restore reads
// and what a raw-block restore sends. Every piece is checked to belong where it is found.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "engine/segment_reader.h"
#include "engine/volume.h"
#include "format/recipe_format.h"

namespace bv::engine {

struct ByteRange {
  uint64_t begin = 0;
  uint64_t end = 0;  // exclusive
};

// One chunk of the stream, and the part of it inside the range (all of it without a range).
struct ChunkRef {
  const format::RecipeEntry& entry;
  uint64_t stream_offset;  // of the chunk's first byte
  uint32_t skip, take;
};

// Calls `fn` for every chunk of stream `stream` that overlaps `range` (every chunk without one),
// in stream order. A range walk reads only the recipe pieces the range touches. A whole walk ends
// with a check that the pieces cover exactly the stream's recorded length.
Status WalkRecipe(Volume* volume, SegmentReader* reader, const SnapshotEntry& snapshot, uint16_t stream,
                  const std::optional<ByteRange>& range, const std::function<Status(const ChunkRef&)>& fn);

// "snapshot <id> stream <n> at byte <offset>": the start of an error message about that place.
std::string StreamPlace(const SnapshotEntry& snapshot, uint16_t stream, uint64_t offset);
// The same from the snapshot's id in hex, as bvd names it in its replies.
std::string StreamPlace(std::string_view snapshot_id_hex, uint64_t stream, uint64_t offset);

}  // namespace bv::engine
