// Deleting a snapshot: a deletion block in the segments (the truth), then the index entries go.
// The chunks it alone held stay until compaction finds them unreferenced.
#pragma once

#include <string>

#include "engine/volume.h"

namespace bv::engine {

// Durable when it returns, like a put.
Status DeleteSnapshot(Volume* volume, const format::SnapshotRecord& snapshot, const std::string& reason);

}  // namespace bv::engine
