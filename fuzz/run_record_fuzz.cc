// Fuzz target: a job run's record (format/run_record_format.h), as bvd reads it from its job
// history. What decodes encodes to the same bytes. Seeds: fuzz/corpus/run_record/.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "format/run_record_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto r = bv::format::DecodeRunRecord(in);
  if (!r.ok()) return 0;
  BV_ASSERT(bv::format::EncodeRunRecord(*r) == in);
  return 0;
}
