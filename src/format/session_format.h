// An ingest session in progress: where a resumable push stands at its last sync point. Kept in
// the index only (column family `sessions`, docs/format-spec.md §7): it is not a fact of the
// volume, and a rebuilt index simply has no sessions (their clients start again).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "format/snapshot_format.h"

namespace bv::format {

inline constexpr uint8_t kSessionRecordVersion = 1;

struct SessionRecord {
  uint64_t id = 0;  // the snapshot id it will commit as
  int64_t time_us = 0;
  std::string source;
  std::string label;
  std::vector<StreamInfo> done;  // streams already ended
  bool in_stream = false;        // a stream is open: `current` says how far it got
  StreamInfo current;            // hash unused: recomputed on resume from the stored bytes
  uint64_t stored_bytes = 0;
  uint64_t new_bytes = 0;
  int64_t updated_us = 0;  // the last sync; an old one is abandoned
  bool operator==(const SessionRecord&) const = default;
};

std::string EncodeSession(const SessionRecord& r);
Result<SessionRecord> DecodeSession(std::string_view bytes);

}  // namespace bv::format
