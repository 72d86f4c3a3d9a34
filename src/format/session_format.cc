#include "format/session_format.h"

#include <cstring>

#include "format/coding.h"

namespace bv::format {

namespace {

Status Bad(size_t off, const std::string& why) {
  return Status::Corruption("session record at byte " + std::to_string(off) + ": " + why);
}

Status GetStream(Decoder* d, StreamInfo* st) {
  size_t off = 0;
  if (Status s = GetStreamInfo(d, st, &off); !s.ok()) return Bad(off, s.message());
  return Status::Ok();
}

}  // namespace

std::string EncodeSession(const SessionRecord& r) {
  BV_ASSERT(r.id != 0 && ValidateSourceName(r.source).ok() && ValidateLabel(r.label, "label").ok());
  BV_ASSERT(r.done.size() + (r.in_stream ? 1 : 0) <= kStreamsMax);
  std::string s;
  PutFixed8(&s, kSessionRecordVersion);
  PutFixed64(&s, r.id);
  PutFixed64(&s, static_cast<uint64_t>(r.time_us));
  PutString16(&s, r.source);
  PutString16(&s, r.label);
  PutFixed16(&s, static_cast<uint16_t>(r.done.size()));
  for (const StreamInfo& st : r.done) PutStreamInfo(&s, st);
  PutFixed8(&s, r.in_stream ? 1 : 0);
  if (r.in_stream) PutStreamInfo(&s, r.current);
  PutFixed64(&s, r.stored_bytes);
  PutFixed64(&s, r.new_bytes);
  PutFixed64(&s, static_cast<uint64_t>(r.updated_us));
  return s;
}

Result<SessionRecord> DecodeSession(std::string_view bytes) {
  Decoder d(bytes);
  SessionRecord r;
  uint8_t u8;
  uint16_t count;
  uint64_t u64;
  std::string_view sv;
  if (!d.GetFixed8(&u8)) return Bad(0, "truncated before version");
  if (u8 != kSessionRecordVersion) return Bad(0, "unknown version " + std::to_string(u8));
  if (!d.GetFixed64(&r.id) || !d.GetFixed64(&u64)) return Bad(d.offset(), "truncated before id and time");
  if (r.id == 0) return Bad(1, "id is 0");
  r.time_us = static_cast<int64_t>(u64);
  size_t off = d.offset();
  if (!d.GetString16(&sv)) return Bad(off, "truncated source name");
  if (Status s = ValidateSourceName(sv); !s.ok()) return Bad(off, s.message());
  r.source = sv;
  off = d.offset();
  if (!d.GetString16(&sv)) return Bad(off, "truncated label");
  if (Status s = ValidateLabel(sv, "label"); !s.ok()) return Bad(off, s.message());
  r.label = sv;
  off = d.offset();
  if (!d.GetFixed16(&count)) return Bad(off, "truncated before stream count");
  if (count > kStreamsMax) return Bad(off, "more than 1024 streams");
  r.done.resize(count);
  for (StreamInfo& st : r.done) BV_RETURN_IF_ERROR(GetStream(&d, &st));
  off = d.offset();
  if (!d.GetFixed8(&u8) || u8 > 1) return Bad(off, "bad open-stream flag");
  r.in_stream = u8 == 1;
  if (r.in_stream) {
    if (count == kStreamsMax) return Bad(off, "more than 1024 streams");
    BV_RETURN_IF_ERROR(GetStream(&d, &r.current));
  }
  off = d.offset();
  if (!d.GetFixed64(&r.stored_bytes) || !d.GetFixed64(&r.new_bytes) || !d.GetFixed64(&u64)) {
    return Bad(off, "truncated before byte counts");
  }
  r.updated_us = static_cast<int64_t>(u64);
  if (d.remaining() != 0) return Bad(d.offset(), "trailing bytes");
  return r;
}

}  // namespace bv::format
