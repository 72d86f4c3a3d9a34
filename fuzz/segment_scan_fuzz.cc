// Fuzz target: a whole segment image walked by the scanner, resuming past every damaged range,
// as fsck does. Seeds: fuzz/corpus/segment_scan/.
#include <cstddef>
#include <cstdint>
#include <string>

#include "format/segment_format.h"
#include "format/segment_scanner.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bv::format;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)DecodeSegmentHeader(in);
  StringSource src(in);
  // Start where blocks start in a real segment, or at 0 for short inputs, so both get exercised.
  SegmentScanner sc(&src, size > kSegmentHeaderSize ? kSegmentHeaderSize : 0, true);
  uint64_t last = 0;
  for (int steps = 0; steps < 100000; steps++) {
    auto b = sc.Next();
    BV_ASSERT(b.ok());  // a string source never fails
    if (b->has_value()) {
      BV_ASSERT((*b)->offset >= last);
      last = (*b)->offset;
      continue;
    }
    if (sc.stop() != ScanStop::kCorrupt) break;
    BV_ASSERT(sc.resume_offset() > sc.stop_offset());
    sc.Resume();
  }
  return 0;
}
