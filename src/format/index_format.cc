#include "format/index_format.h"

#include <cstring>

#include "format/coding.h"

namespace bv::format {

namespace {

Status Bad(const char* what, std::string_view v, size_t want) {
  return Status::Corruption(std::string("index: ") + what + " of " + std::to_string(v.size()) + " bytes, expected " +
                            std::to_string(want));
}

// Newest first: a larger time sorts earlier.
uint64_t InvertTime(int64_t t) { return ~(static_cast<uint64_t>(t) ^ (uint64_t{1} << 63)); }
int64_t RevertTime(uint64_t k) { return static_cast<int64_t>(~k ^ (uint64_t{1} << 63)); }

}  // namespace

std::string EncodeLocation(const Location& l) {
  std::string s;
  PutFixed64(&s, l.segment);
  PutFixed64(&s, l.offset);
  PutFixed32(&s, l.stored_len);
  PutFixed32(&s, l.raw_len);
  BV_ASSERT(s.size() == kLocationSize);
  return s;
}

Result<Location> DecodeLocation(std::string_view v) {
  if (v.size() != kLocationSize) return Bad("location value", v, kLocationSize);
  Location l;
  l.segment = DecodeFixed64(v.data());
  l.offset = DecodeFixed64(v.data() + 8);
  l.stored_len = DecodeFixed32(v.data() + 16);
  l.raw_len = DecodeFixed32(v.data() + 20);
  if (l.segment == 0) return Status::Corruption("index: location in segment 0");
  if (l.stored_len > kBlockPayloadMax || l.raw_len > kBlockPayloadMax) {
    return Status::Corruption("index: location of a block larger than " + std::to_string(kBlockPayloadMax) + " bytes");
  }
  return l;
}

std::string EncodeRecipeValue(const RecipeValue& r) {
  std::string s = EncodeLocation(r.location);
  PutFixed64(&s, r.stream_offset);
  return s;
}

Result<RecipeValue> DecodeRecipeValue(std::string_view v) {
  if (v.size() != kRecipeValueSize) return Bad("recipe value", v, kRecipeValueSize);
  RecipeValue r;
  BV_ASSIGN_OR_RETURN(r.location, DecodeLocation(v.substr(0, kLocationSize)));
  r.stream_offset = DecodeFixed64(v.data() + kLocationSize);
  return r;
}

std::string EncodeTombstone(const Tombstone& t) { return EncodeLocation(t.commit) + EncodeLocation(t.deletion); }

Result<Tombstone> DecodeTombstone(std::string_view v) {
  if (v.size() != kTombstoneSize) return Bad("tombstone", v, kTombstoneSize);
  Tombstone t;
  BV_ASSIGN_OR_RETURN(t.commit, DecodeLocation(v.substr(0, kLocationSize)));
  BV_ASSIGN_OR_RETURN(t.deletion, DecodeLocation(v.substr(kLocationSize)));
  return t;
}

std::string EncodeSegmentState(const SegmentState& s) {
  std::string v;
  BV_ASSERT(!s.retired || s.sealed);
  PutFixed8(&v, s.retired ? 2 : s.sealed ? 1 : 0);
  PutFixed64(&v, s.indexed_through);
  PutFixed64(&v, s.blocks);
  return v;
}

Result<SegmentState> DecodeSegmentState(std::string_view v) {
  if (v.size() != kSegmentStateSize) return Bad("segment state", v, kSegmentStateSize);
  if (static_cast<uint8_t>(v[0]) > 2) return Status::Corruption("index: segment state is not 0, 1 or 2");
  SegmentState s;
  s.sealed = v[0] >= 1;
  s.retired = v[0] == 2;
  s.indexed_through = DecodeFixed64(v.data() + 1);
  s.blocks = DecodeFixed64(v.data() + 9);
  return s;
}

std::string EncodeSnapshotValue(const Location& commit, const SnapshotRecord& r) {
  return EncodeLocation(commit) + EncodeSnapshot(r);
}

Result<SnapshotRecord> DecodeSnapshotValue(std::string_view v, Location* commit) {
  if (v.size() < kLocationSize) return Status::Corruption("index: snapshot entry too short");
  BV_ASSIGN_OR_RETURN(*commit, DecodeLocation(v.substr(0, kLocationSize)));
  return DecodeSnapshot(v.substr(kLocationSize));
}

std::string U64Key(uint64_t v) {
  std::string k;
  PutBigEndian64(&k, v);
  return k;
}

Result<uint64_t> DecodeU64Key(std::string_view k) {
  if (k.size() != 8) return Bad("key", k, 8);
  return DecodeBigEndian64(k.data());
}

std::string IdKey(const Id& id) { return std::string(reinterpret_cast<const char*>(id.data()), id.size()); }

Result<Id> DecodeIdKey(std::string_view k) {
  if (k.size() != kIdSize) return Bad("chunk id", k, kIdSize);
  Id id;
  std::memcpy(id.data(), k.data(), id.size());
  return id;
}

std::string SegOffKey(uint64_t segment, uint64_t offset) {
  std::string k;
  PutBigEndian64(&k, segment);
  PutBigEndian64(&k, offset);
  return k;
}

Result<std::pair<uint64_t, uint64_t>> DecodeSegOffKey(std::string_view k) {
  if (k.size() != 16) return Bad("location key", k, 16);
  return std::pair<uint64_t, uint64_t>(DecodeBigEndian64(k.data()), DecodeBigEndian64(k.data() + 8));
}

std::string EncodeRecipeKey(const RecipeKey& r) {
  std::string k;
  PutBigEndian64(&k, r.snapshot);
  k.push_back(static_cast<char>(r.stream >> 8));
  k.push_back(static_cast<char>(r.stream));
  for (int i = 3; i >= 0; i--) k.push_back(static_cast<char>(r.piece >> (8 * i)));
  BV_ASSERT(k.size() == kRecipeKeySize);
  return k;
}

Result<RecipeKey> DecodeRecipeKey(std::string_view k) {
  if (k.size() != kRecipeKeySize) return Bad("recipe key", k, kRecipeKeySize);
  const auto* b = reinterpret_cast<const uint8_t*>(k.data());
  RecipeKey r;
  r.snapshot = DecodeBigEndian64(k.data());
  r.stream = static_cast<uint16_t>((b[8] << 8) | b[9]);
  r.piece = (uint32_t{b[10]} << 24) | (uint32_t{b[11]} << 16) | (uint32_t{b[12]} << 8) | b[13];
  return r;
}

std::string BySourceKey(std::string_view source, int64_t time_us, uint64_t id) {
  std::string k = BySourceSeek(source, time_us);
  PutBigEndian64(&k, id);
  return k;
}

std::string BySourceSeek(std::string_view source, int64_t time_us) {
  std::string k(source);
  k.push_back('\0');
  PutBigEndian64(&k, InvertTime(time_us));
  return k;
}

Result<BySource> DecodeBySourceKey(std::string_view k) {
  // Source names hold no NUL (§4.3), so the separator is the only one.
  const size_t nul = k.find('\0');
  if (nul == std::string_view::npos || nul == 0 || k.size() != nul + 1 + 16) {
    return Status::Corruption("index: by_source key of " + std::to_string(k.size()) + " bytes is malformed");
  }
  BySource b;
  b.source = std::string(k.substr(0, nul));
  b.time_us = RevertTime(DecodeBigEndian64(k.data() + nul + 1));
  b.id = DecodeBigEndian64(k.data() + nul + 9);
  return b;
}

}  // namespace bv::format
