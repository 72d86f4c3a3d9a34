// Naming a snapshot on the command line: its id (16 hex digits, or a unique prefix of at least
// 4), SOURCE (its newest snapshot) or SOURCE@TIME (the newest at or before TIME).
#pragma once

#include <string>

#include "engine/index.h"

namespace bv::tool {

std::string SnapshotIdString(uint64_t id);
Result<engine::SnapshotEntry> ResolveSnapshot(engine::Index* index, const std::string& ref);

}  // namespace bv::tool
