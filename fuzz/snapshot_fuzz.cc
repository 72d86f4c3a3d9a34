// Fuzz target: snapshot commit and deletion payloads, and session records (index values). What decodes must re-encode to the same
// bytes. Seeds: fuzz/corpus/snapshot/.
#include <cstddef>
#include <cstdint>
#include <string>

#include "format/session_format.h"
#include "format/snapshot_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bv::format;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto r = DecodeSnapshot(in); r.ok()) BV_ASSERT(EncodeSnapshot(*r) == in);
  if (auto d = DecodeDeletion(in); d.ok()) BV_ASSERT(EncodeDeletion(*d) == in);
  if (auto s = DecodeSession(in); s.ok()) BV_ASSERT(EncodeSession(*s) == in);
  (void)ValidateSourceName(in);
  return 0;
}
