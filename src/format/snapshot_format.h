// Snapshot commit and deletion records: the payloads that make a snapshot exist and stop
// existing. Spec: docs/format-spec.md §4.3 and §4.4.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "format/coding.h"

namespace bv::format {

inline constexpr uint8_t kSnapshotRecordVersion = 1;
inline constexpr size_t kNameMax = 255;        // source, stream name and label, in bytes
inline constexpr uint16_t kStreamsMax = 1024;  // streams in one snapshot
inline constexpr size_t kStreamHashSize = 16;

struct StreamInfo {
  std::string name;
  uint64_t length = 0;
  std::array<uint8_t, kStreamHashSize> hash{};  // keyed XXH3-128 of the plaintext stream
  uint64_t chunk_count = 0;
  uint32_t recipe_pieces = 0;
  bool operator==(const StreamInfo&) const = default;
};

struct SnapshotRecord {
  uint64_t id = 0;
  int64_t time_us = 0;  // the snapshot's time, UTC microseconds since 1970
  std::string source;
  std::string label;
  std::vector<StreamInfo> streams;
  uint64_t stored_bytes = 0;  // stored bytes of the chunks it references, once per reference
  uint64_t new_bytes = 0;     // stored bytes this snapshot added to the volume
  uint64_t logical_bytes() const;
  bool operator==(const SnapshotRecord&) const = default;
};

struct DeletionRecord {
  uint64_t snapshot_id = 0;
  int64_t time_us = 0;
  std::string reason;
  bool operator==(const DeletionRecord&) const = default;
};

// One stream's entry as snapshot and session records hold it (§4.3): name (u16 length + bytes),
// length (8), hash (16), chunk_count (8), recipe_pieces (4). The one coder of StreamInfo.
void PutStreamInfo(std::string* dst, const StreamInfo& st);
// Reads one entry and checks it (a valid name; no more chunks than bytes nor pieces than chunks).
// On failure, *at is the failing field's offset in the record.
Status GetStreamInfo(Decoder* d, StreamInfo* st, size_t* at);

std::string EncodeSnapshot(const SnapshotRecord& r);
Result<SnapshotRecord> DecodeSnapshot(std::string_view payload);
std::string EncodeDeletion(const DeletionRecord& r);
Result<DeletionRecord> DecodeDeletion(std::string_view payload);

// Source names look like paths ("pg/orders"): 1..255 bytes of valid UTF-8, no control
// characters, no leading '/', no empty, "." or ".." component. Labels and stream names: 0..255
// bytes of UTF-8 without control characters.
Status ValidateSourceName(std::string_view name);
// A snapshot id as users see it: 16 lowercase hex digits.
std::string SnapshotIdHex(uint64_t id);
Status ValidateLabel(std::string_view label, const char* what);

}  // namespace bv::format
