// The RocksDB index's keys and values, byte for byte (docs/format-spec.md §7). Pure codecs: the
// index module (engine/index.cc) only moves these bytes in and out of RocksDB. Every decoder
// checks the length and every field it reads, since an index file is bytes from disk too.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "format/block_format.h"
#include "format/snapshot_format.h"

namespace bv::format {

// Where a block is: its header's offset in a segment, and its sizes.
// Value layout: segment (8) | offset (8) | stored_len (4) | raw_len (4), little-endian.
struct Location {
  uint64_t segment = 0;
  uint64_t offset = 0;
  uint32_t stored_len = 0;
  uint32_t raw_len = 0;
  uint64_t total_size() const { return kBlockHeaderSize + stored_len; }
  bool operator==(const Location&) const = default;
};
inline constexpr size_t kLocationSize = 8 + 8 + 4 + 4;
static_assert(kLocationSize == 24);

// Value layout: state (1: 0 open, 1 sealed, 2 retired) | indexed_through (8) | blocks (8).
// A retired segment is sealed, and compaction has moved everything of it that is still needed
// elsewhere: its file is to be removed, never scanned (format-spec [CMP-5]).
struct SegmentState {
  bool sealed = false;
  uint64_t indexed_through = 0;  // every block before this offset is reflected in the index
  uint64_t blocks = 0;           // blocks before indexed_through
  bool retired = false;          // implies sealed
};
inline constexpr size_t kSegmentStateSize = 1 + 8 + 8;
static_assert(kSegmentStateSize == 17);

std::string EncodeLocation(const Location& l);
Result<Location> DecodeLocation(std::string_view v);

// recipes value: location of the recipe block (24) | the piece's stream offset (8).
struct RecipeValue {
  Location location;
  uint64_t stream_offset = 0;
};
inline constexpr size_t kRecipeValueSize = kLocationSize + 8;
std::string EncodeRecipeValue(const RecipeValue& r);
Result<RecipeValue> DecodeRecipeValue(std::string_view v);

// tombstones value: where a deleted snapshot's commit block is (24), and its deletion block (24).
struct Tombstone {
  Location commit;
  Location deletion;
  bool operator==(const Tombstone&) const = default;
};
inline constexpr size_t kTombstoneSize = 2 * kLocationSize;
std::string EncodeTombstone(const Tombstone& t);
Result<Tombstone> DecodeTombstone(std::string_view v);

std::string EncodeSegmentState(const SegmentState& s);
Result<SegmentState> DecodeSegmentState(std::string_view v);

// snapshots value: commit location (24) | snapshot record (§4.3).
std::string EncodeSnapshotValue(const Location& commit, const SnapshotRecord& r);
Result<SnapshotRecord> DecodeSnapshotValue(std::string_view v, Location* commit);

// Keys. A u64 key (snapshots, segments, sessions) is 8 bytes big-endian, so keys sort by number.
std::string U64Key(uint64_t v);
Result<uint64_t> DecodeU64Key(std::string_view k);
// chunks and quarantine: the chunk id (32).
std::string IdKey(const Id& id);
Result<Id> DecodeIdKey(std::string_view k);
// locations: segment (8, BE) | offset (8, BE); value: the chunk id (32).
std::string SegOffKey(uint64_t segment, uint64_t offset);
Result<std::pair<uint64_t, uint64_t>> DecodeSegOffKey(std::string_view k);
// recipes: snapshot (8, BE) | stream (2, BE) | piece (4, BE).
struct RecipeKey {
  uint64_t snapshot = 0;
  uint16_t stream = 0;
  uint32_t piece = 0;
};
inline constexpr size_t kRecipeKeySize = 8 + 2 + 4;
std::string EncodeRecipeKey(const RecipeKey& k);
Result<RecipeKey> DecodeRecipeKey(std::string_view k);
// by_source: source | 0x00 | ~(time ^ 2^63) (8, BE) | id (8, BE): newest first per source.
std::string BySourceKey(std::string_view source, int64_t time_us, uint64_t id);
// The start of `source`'s keys at or before time_us.
std::string BySourceSeek(std::string_view source, int64_t time_us);
struct BySource {
  std::string source;
  int64_t time_us = 0;
  uint64_t id = 0;
};
Result<BySource> DecodeBySourceKey(std::string_view k);

}  // namespace bv::format
