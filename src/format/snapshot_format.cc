#include "format/snapshot_format.h"

#include <cstring>
#include <optional>

#include "format/coding.h"
#include "format/utf8.h"

namespace bv::format {

namespace {

Status Bad(const char* what, size_t off, const std::string& why) {
  return Status::Corruption(std::string(what) + ": " + why + " at offset " + std::to_string(off));
}

bool ValidUtf8NoControl(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const std::optional<uint32_t> cp = DecodeUtf8(s, &i);
    if (!cp || *cp < 0x20 || (*cp >= 0x7f && *cp < 0xa0)) return false;  // invalid, C0, DEL or C1
  }
  return true;
}

}  // namespace

std::string SnapshotIdHex(uint64_t id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; i--, id >>= 4) s[static_cast<size_t>(i)] = kDigits[id & 15];
  return s;
}

uint64_t SnapshotRecord::logical_bytes() const {
  uint64_t n = 0;
  for (const StreamInfo& s : streams) n += s.length;
  return n;
}

Status ValidateSourceName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("source name is empty");
  if (name.size() > kNameMax) {
    return Status::InvalidArgument("source name is " + std::to_string(name.size()) +
                                   " bytes, longer than 255");
  }
  if (!ValidUtf8NoControl(name)) {
    return Status::InvalidArgument("source name has control characters or invalid UTF-8");
  }
  if (name.front() == '/') return Status::InvalidArgument("source name starts with '/'");
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view part = name.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return Status::InvalidArgument("source name has an empty, '.' or '..' component");
    }
    start = end + 1;
  }
  if (name.find('@') != std::string_view::npos) {
    return Status::InvalidArgument("source name contains '@', which separates a source from a time");
  }
  return Status::Ok();
}

Status ValidateLabel(std::string_view label, const char* what) {
  if (label.size() > kNameMax) {
    return Status::InvalidArgument(std::string(what) + " is longer than 255 bytes");
  }
  if (!ValidUtf8NoControl(label)) {
    return Status::InvalidArgument(std::string(what) + " has control characters or invalid UTF-8");
  }
  return Status::Ok();
}

void PutStreamInfo(std::string* s, const StreamInfo& st) {
  BV_ASSERT(ValidateLabel(st.name, "stream name").ok());
  PutString16(s, st.name);
  PutFixed64(s, st.length);
  s->append(reinterpret_cast<const char*>(st.hash.data()), kStreamHashSize);
  PutFixed64(s, st.chunk_count);
  PutFixed32(s, st.recipe_pieces);
}

Status GetStreamInfo(Decoder* d, StreamInfo* st, size_t* at) {
  std::string_view sv;
  *at = d->offset();
  if (!d->GetString16(&sv)) return Status::Corruption("truncated stream name");
  if (Status s = ValidateLabel(sv, "stream name"); !s.ok()) return s;
  st->name = sv;
  *at = d->offset();
  if (!d->GetFixed64(&st->length) || !d->GetBytes(kStreamHashSize, &sv) || !d->GetFixed64(&st->chunk_count) ||
      !d->GetFixed32(&st->recipe_pieces)) {
    return Status::Corruption("truncated stream entry");
  }
  std::memcpy(st->hash.data(), sv.data(), kStreamHashSize);
  if (st->chunk_count > st->length || st->recipe_pieces > st->chunk_count) {
    return Status::Corruption("stream has more chunks than bytes or more pieces than chunks");
  }
  return Status::Ok();
}

std::string EncodeSnapshot(const SnapshotRecord& r) {
  BV_ASSERT(r.id != 0 && !r.streams.empty() && r.streams.size() <= kStreamsMax);
  BV_ASSERT(ValidateSourceName(r.source).ok() && ValidateLabel(r.label, "label").ok());
  std::string s;
  PutFixed8(&s, kSnapshotRecordVersion);
  PutFixed64(&s, r.id);
  PutFixed64(&s, static_cast<uint64_t>(r.time_us));
  PutString16(&s, r.source);
  PutString16(&s, r.label);
  PutFixed16(&s, static_cast<uint16_t>(r.streams.size()));
  for (const StreamInfo& st : r.streams) PutStreamInfo(&s, st);
  PutFixed64(&s, r.stored_bytes);
  PutFixed64(&s, r.new_bytes);
  return s;
}

Result<SnapshotRecord> DecodeSnapshot(std::string_view payload) {
  const char* what = "snapshot record";
  Decoder d(payload);
  SnapshotRecord r;
  uint8_t version;
  uint64_t u64;
  std::string_view sv;
  if (!d.GetFixed8(&version)) return Bad(what, 0, "truncated before version");
  if (version != kSnapshotRecordVersion) {
    return Bad(what, 0, "unknown record version " + std::to_string(version));
  }
  if (!d.GetFixed64(&r.id)) return Bad(what, d.offset(), "truncated before id");
  if (r.id == 0) return Bad(what, 1, "id is 0");
  if (!d.GetFixed64(&u64)) return Bad(what, d.offset(), "truncated before time");
  r.time_us = static_cast<int64_t>(u64);
  size_t off = d.offset();
  if (!d.GetString16(&sv)) return Bad(what, off, "truncated source name");
  if (Status s = ValidateSourceName(sv); !s.ok()) return Bad(what, off, s.message());
  r.source = sv;
  off = d.offset();
  if (!d.GetString16(&sv)) return Bad(what, off, "truncated label");
  if (Status s = ValidateLabel(sv, "label"); !s.ok()) return Bad(what, off, s.message());
  r.label = sv;
  uint16_t count;
  off = d.offset();
  if (!d.GetFixed16(&count)) return Bad(what, off, "truncated before stream count");
  if (count == 0 || count > kStreamsMax) {
    return Bad(what, off, "stream count " + std::to_string(count) + " outside 1..1024");
  }
  r.streams.resize(count);
  for (StreamInfo& st : r.streams) {
    if (Status s = GetStreamInfo(&d, &st, &off); !s.ok()) return Bad(what, off, s.message());
    if ((st.length == 0) != (st.chunk_count == 0) || (st.chunk_count == 0) != (st.recipe_pieces == 0)) {
      return Bad(what, off, "stream length, chunk count and recipe pieces disagree about emptiness");
    }
  }
  off = d.offset();
  if (!d.GetFixed64(&r.stored_bytes) || !d.GetFixed64(&r.new_bytes)) {
    return Bad(what, off, "truncated before byte counts");
  }
  if (d.remaining() != 0) return Bad(what, d.offset(), "trailing bytes");
  return r;
}

std::string EncodeDeletion(const DeletionRecord& r) {
  BV_ASSERT(r.snapshot_id != 0 && ValidateLabel(r.reason, "reason").ok());
  std::string s;
  PutFixed8(&s, kSnapshotRecordVersion);
  PutFixed64(&s, r.snapshot_id);
  PutFixed64(&s, static_cast<uint64_t>(r.time_us));
  PutString16(&s, r.reason);
  return s;
}

Result<DeletionRecord> DecodeDeletion(std::string_view payload) {
  const char* what = "deletion record";
  Decoder d(payload);
  DeletionRecord r;
  uint8_t version;
  uint64_t t;
  std::string_view sv;
  if (!d.GetFixed8(&version)) return Bad(what, 0, "truncated before version");
  if (version != kSnapshotRecordVersion) return Bad(what, 0, "unknown record version " + std::to_string(version));
  if (!d.GetFixed64(&r.snapshot_id) || !d.GetFixed64(&t)) return Bad(what, d.offset(), "truncated");
  if (r.snapshot_id == 0) return Bad(what, 1, "snapshot id is 0");
  r.time_us = static_cast<int64_t>(t);
  size_t off = d.offset();
  if (!d.GetString16(&sv)) return Bad(what, off, "truncated reason");
  if (Status s = ValidateLabel(sv, "reason"); !s.ok()) return Bad(what, off, s.message());
  r.reason = sv;
  if (d.remaining() != 0) return Bad(what, d.offset(), "trailing bytes");
  return r;
}

}  // namespace bv::format
