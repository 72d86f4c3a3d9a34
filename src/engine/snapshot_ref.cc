#include "engine/snapshot_ref.h"

#include <cstdio>
#include <functional>
#include <limits>
#include <string_view>
#include <vector>

#include "base/time_format.h"
#include "format/name_rules.h"
#include "format/snapshot_format.h"

namespace bv::engine {

std::string SnapshotIdString(uint64_t id) { return format::SnapshotIdHex(id); }

namespace {

bool IsHex(std::string_view s) {
  if (s.size() < 4 || s.size() > 16) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Reads the record of a snapshot a lookup has just listed. A DELETE between the two reads removes
// the listing and the record in one batch, so a record found missing is damage only if the
// listing still names the id afterwards (`still_listed`); otherwise the snapshot went meanwhile.
Result<SnapshotEntry> Get(Index* index, uint64_t id, const std::function<Result<bool>()>& still_listed) {
  BV_ASSIGN_OR_RETURN(auto e, index->GetSnapshot(id));
  if (e) return *e;
  BV_ASSIGN_OR_RETURN(bool listed, still_listed());
  if (listed) return Status::Corruption("index: snapshot " + SnapshotIdString(id) + " is listed but missing");
  return Status::NotFound("snapshot " + SnapshotIdString(id) + " was deleted meanwhile");
}

// Ids listed by the snapshots column itself: a missing record there can only be a delete.
Result<SnapshotEntry> GetListedById(Index* index, uint64_t id) {
  return Get(index, id, [] { return Result<bool>(false); });
}

// Ids listed by a source's time line: damage if that line still gives the same id.
Result<SnapshotEntry> GetListedBySource(Index* index, uint64_t id, const std::string& source, int64_t when) {
  return Get(index, id, [&]() -> Result<bool> {
    BV_ASSIGN_OR_RETURN(auto again, index->FindAsOf(source, when));
    return again && *again == id;
  });
}

// The snapshots whose ids start with `hex` (4 to 16 hex digits).
Result<std::vector<uint64_t>> IdsStartingWith(Index* index, std::string_view hex) {
  const uint64_t value = std::stoull(std::string(hex), nullptr, 16) << (4 * (16 - hex.size()));
  return index->FindSnapshotsByPrefix(value, static_cast<int>(4 * hex.size()));
}

// "id:HEX": an id or a unique prefix, and nothing else.
Result<SnapshotEntry> ById(Index* index, const std::string& ref) {
  const std::string_view hex = std::string_view(ref).substr(format::kIdPrefix.size());
  if (!IsHex(hex)) return Status::InvalidArgument("'" + ref + "': after id: come 4 to 16 lowercase hex digits");
  BV_ASSIGN_OR_RETURN(auto ids, IdsStartingWith(index, hex));
  if (ids.empty()) return Status::NotFound("no snapshot id starts with " + std::string(hex));
  if (ids.size() > 1) return Status::InvalidArgument("snapshot id prefix '" + std::string(hex) + "' is ambiguous");
  return GetListedById(index, ids[0]);
}

// "SOURCE@TIME" or "SOURCE@latest".
Result<SnapshotEntry> AsOf(Index* index, const std::string& ref, size_t at) {
  const std::string source = ref.substr(0, at);
  const std::string t = ref.substr(at + 1);
  int64_t when = std::numeric_limits<int64_t>::max();
  if (t != "latest") {
    BV_ASSIGN_OR_RETURN(when, ParseTime(t));
  }
  BV_ASSIGN_OR_RETURN(auto id, index->FindAsOf(source, when));
  if (!id) {
    if (t == "latest") return Status::NotFound("source '" + source + "' has no snapshot");
    return Status::NotFound("source '" + source + "' has no snapshot at or before " + FormatTime(when));
  }
  return GetListedBySource(index, *id, source, when);
}

}  // namespace

// A bare reference is read as a source first: a name is never taken for an id. Where a source of
// that name exists and ids also start with it, the caller must say which (id:HEX or NAME@latest).
Result<SnapshotEntry> ResolveSnapshot(Index* index, const std::string& ref) {
  if (ref.rfind(format::kIdPrefix, 0) == 0) return ById(index, ref);
  if (size_t at = ref.rfind('@'); at != std::string::npos) return AsOf(index, ref, at);
  BV_ASSIGN_OR_RETURN(auto newest, index->FindAsOf(ref, std::numeric_limits<int64_t>::max()));
  std::vector<uint64_t> ids;
  if (IsHex(ref)) {
    BV_ASSIGN_OR_RETURN(ids, IdsStartingWith(index, ref));
  }
  if (newest && !ids.empty()) {
    return Status::InvalidArgument("'" + ref + "' is both a source and the start of snapshot id " +
                                   SnapshotIdString(ids[0]) + ": write " + ref + "@latest for the source's newest "
                                   "snapshot or id:" + ref + " for the id");
  }
  if (newest) return GetListedBySource(index, *newest, ref, std::numeric_limits<int64_t>::max());
  if (ids.size() > 1) return Status::InvalidArgument("snapshot id prefix '" + ref + "' is ambiguous");
  if (ids.size() == 1) return GetListedById(index, ids[0]);
  return Status::NotFound("no snapshot '" + ref + "' (neither an id nor a source with snapshots)");
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
