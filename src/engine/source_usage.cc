#include "engine/source_usage.h"

namespace bv::engine {

Result<std::map<std::string, SourceUsage>> UsageBySource(Index* index) {
  std::map<std::string, SourceUsage> out;
  BV_RETURN_IF_ERROR(index->ForEachSnapshot("", [&](const SnapshotEntry& e) {
    SourceUsage& s = out[e.record.source];
    s.snapshots++;
    s.logical_bytes += e.record.logical_bytes();
    s.new_bytes += e.record.new_bytes;
    return true;
  }));
  return out;
}

}  // namespace bv::engine
