// Fuzz target: a verify job's cursor (format/verify_cursor_format.h), as bvd reads it from its job
// history. What decodes encodes to the same bytes. Seeds: fuzz/corpus/verify_cursor/.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "format/verify_cursor_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto c = bv::format::DecodeVerifyCursor(in);
  if (!c.ok()) return 0;
  BV_ASSERT(bv::format::EncodeVerifyCursor(*c) == in);
  return 0;
}
