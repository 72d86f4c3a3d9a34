#include "format/verify_cursor_format.h"

#include "format/coding.h"

namespace bv::format {

std::string EncodeVerifyCursor(const VerifyCursor& c) {
  BV_ASSERT(c.pass_start_us >= 0 && c.last_pass_end_us >= 0);
  std::string s;
  PutFixed8(&s, kVerifyCursorVersion);
  PutFixed64(&s, c.next_segment);
  PutFixed64(&s, static_cast<uint64_t>(c.pass_start_us));
  PutFixed64(&s, c.passes);
  PutFixed64(&s, static_cast<uint64_t>(c.last_pass_end_us));
  PutFixed64(&s, c.pass_bytes);
  BV_ASSERT(s.size() == kVerifyCursorSize);
  return s;
}

Result<VerifyCursor> DecodeVerifyCursor(std::string_view bytes) {
  if (bytes.size() != kVerifyCursorSize) {
    return Status::Corruption("verify cursor: " + std::to_string(bytes.size()) + " bytes, not " +
                              std::to_string(kVerifyCursorSize));
  }
  Decoder d(bytes);
  uint8_t version = 0;
  uint64_t start = 0, end = 0;
  VerifyCursor c;
  // The length is right, so every read below succeeds.
  const bool whole = d.GetFixed8(&version) && d.GetFixed64(&c.next_segment) && d.GetFixed64(&start) &&
                     d.GetFixed64(&c.passes) && d.GetFixed64(&end) && d.GetFixed64(&c.pass_bytes);
  BV_ASSERT(whole);
  if (version != kVerifyCursorVersion) return Status::Corruption("verify cursor: unknown version " + std::to_string(version));
  // Times are microseconds since 1970 as signed 64-bit numbers: a negative one is damage.
  if (static_cast<int64_t>(start) < 0) return Status::Corruption("verify cursor at byte 9: negative pass start");
  if (static_cast<int64_t>(end) < 0) return Status::Corruption("verify cursor at byte 25: negative pass end");
  c.pass_start_us = static_cast<int64_t>(start);
  c.last_pass_end_us = static_cast<int64_t>(end);
  return c;
}

}  // namespace bv::format
