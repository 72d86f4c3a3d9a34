// What each source of a volume holds, for `df`: its kept snapshots, the bytes they restore to,
// and the bytes each wrote new when it was taken. From the snapshot records alone.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "engine/index.h"

namespace bv::engine {

struct SourceUsage {
  uint64_t snapshots = 0;
  uint64_t logical_bytes = 0;
  uint64_t new_bytes = 0;
};

Result<std::map<std::string, SourceUsage>> UsageBySource(Index* index);

}  // namespace bv::engine
