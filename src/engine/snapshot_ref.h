// Naming a snapshot on the command line: SOURCE (its newest snapshot), SOURCE@TIME (the newest at
// or before TIME), SOURCE@latest, id:HEX (an id, or a unique prefix of at least 4 hex digits), or
// bare HEX for an id when no source has that name.
#pragma once

#include <string>

#include "engine/index.h"
#include "engine/recipe_walk.h"

namespace bv::engine {

std::string SnapshotIdString(uint64_t id);
Result<SnapshotEntry> ResolveSnapshot(Index* index, const std::string& ref);
// The stream named `name`; "" names the first.
Result<uint16_t> FindStream(const format::SnapshotRecord& r, const std::string& name);
// "A-B" (bytes A up to B, exclusive) or "A-" (to the end of a stream of `length` bytes).
Result<ByteRange> ParseByteRange(const std::string& s, uint64_t length);

}  // namespace bv::engine
