// Fuzz target: DIR/RETIRED (format/retired_format.h), as fsck and compaction read it from disk.
// What decodes encodes to the same bytes (version 2) or to ranges that decode the same (version
// 1, rewritten as version 2). Seeds: fuzz/corpus/retired/.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "format/retired_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto r = bv::format::DecodeRetired(in);
  if (!r.ok()) return 0;
  const std::string out = bv::format::EncodeRetired(*r);
  if (in.substr(0, bv::format::kRetiredMagic.size()) == bv::format::kRetiredMagic) BV_ASSERT(out == in);
  auto again = bv::format::DecodeRetired(out);
  BV_ASSERT(again.ok() && *again == *r);
  return 0;
}
