// Fuzz target: DIR/RETIRED (format/retired_format.h), as fsck and compaction read it from disk.
// What decodes must encode back to the same bytes. Seeds: fuzz/corpus/retired/.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "format/retired_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto r = bv::format::DecodeRetired(in); r.ok()) BV_ASSERT(bv::format::EncodeRetired(*r) == in);
  return 0;
}
