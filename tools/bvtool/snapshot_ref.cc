#include "tools/bvtool/snapshot_ref.h"

#include <cstdio>
#include <limits>

#include "base/time_format.h"
#include "format/snapshot_format.h"

namespace bv::tool {

std::string SnapshotIdString(uint64_t id) { return format::SnapshotIdHex(id); }

namespace {

bool IsHex(const std::string& s) {
  if (s.size() < 4 || s.size() > 16) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

Result<engine::SnapshotEntry> ResolveSnapshot(engine::Index* index, const std::string& ref) {
  if (IsHex(ref)) {
    const uint64_t value = std::stoull(ref, nullptr, 16) << (4 * (16 - ref.size()));
    BV_ASSIGN_OR_RETURN(auto ids, index->FindSnapshotsByPrefix(value, static_cast<int>(4 * ref.size())));
    if (ids.size() > 1) return Status::InvalidArgument("snapshot id prefix '" + ref + "' is ambiguous");
    if (ids.size() == 1) {
      BV_ASSIGN_OR_RETURN(auto e, index->GetSnapshot(ids[0]));
      if (e) return *e;
    }
  }
  std::string source = ref;
  int64_t when = std::numeric_limits<int64_t>::max();
  if (size_t at = ref.rfind('@'); at != std::string::npos) {
    source = ref.substr(0, at);
    BV_ASSIGN_OR_RETURN(when, ParseTime(ref.substr(at + 1)));
  }
  BV_ASSIGN_OR_RETURN(auto id, index->FindAsOf(source, when));
  if (!id) {
    if (when == std::numeric_limits<int64_t>::max()) {
      return Status::NotFound("no snapshot '" + ref + "' (neither an id nor a source with snapshots)");
    }
    return Status::NotFound("source '" + source + "' has no snapshot at or before " + FormatTime(when));
  }
  BV_ASSIGN_OR_RETURN(auto e, index->GetSnapshot(*id));
  if (!e) return Status::Corruption("index: snapshot " + SnapshotIdString(*id) + " is listed but missing");
  return *e;
}

}  // namespace bv::tool
