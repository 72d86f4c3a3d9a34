#include "engine/snapshot_ref.h"

#include <cstdio>
#include <limits>

#include "base/time_format.h"
#include "format/snapshot_format.h"

namespace bv::engine {

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

Result<SnapshotEntry> ResolveSnapshot(Index* index, const std::string& ref) {
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

Result<uint16_t> FindStream(const format::SnapshotRecord& r, const std::string& name) {
  if (name.empty()) return 0;
  for (size_t i = 0; i < r.streams.size(); i++) {
    if (r.streams[i].name == name) return static_cast<uint16_t>(i);
  }
  return Status::NotFound("snapshot " + format::SnapshotIdHex(r.id) + " has no stream named '" + name + "'");
}

Result<ByteRange> ParseByteRange(const std::string& s, uint64_t length) {
  const auto bad = [&] { return Status::InvalidArgument("range " + s + ": expected byte offsets A-B or A-"); };
  const size_t dash = s.find('-');
  if (dash == std::string::npos || dash == 0) return bad();
  const auto number = [](const std::string& t, uint64_t* out) {
    if (t.empty() || t.size() > 19) return false;
    uint64_t v = 0;
    for (char c : t) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    *out = v;
    return true;
  };
  ByteRange r;
  if (!number(s.substr(0, dash), &r.begin)) return bad();
  if (dash + 1 == s.size()) {
    r.end = length;
  } else if (!number(s.substr(dash + 1), &r.end)) {
    return bad();
  }
  if (r.begin > r.end || r.end > length) {
    return Status::InvalidArgument("range " + s + " is not within the stream's " + std::to_string(length) + " bytes");
  }
  return r;
}

}  // namespace bv::engine
