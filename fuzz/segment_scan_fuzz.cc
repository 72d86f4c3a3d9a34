// Fuzz target: a whole segment image walked by the scanner, resuming past every damaged range,
// as fsck does; each input as it is and with its checksums made to hold (fix_checksums.h).
// Seeds: fuzz/corpus/segment_scan/.
#include <cstddef>
#include <cstdint>
#include <string>

#include "format/segment_format.h"
#include "format/segment_scanner.h"
#include "fuzz/fix_checksums.h"

namespace {

void Scan(std::string_view in, size_t start) {
  using namespace bv::format;
  (void)DecodeSegmentHeader(in);
  StringSource src(in);
  SegmentScanner sc(&src, start, true);
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
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // Start where blocks start in a real segment, or at 0 for short inputs, so both get exercised.
  const size_t start = size > bv::format::kSegmentHeaderSize ? bv::format::kSegmentHeaderSize : 0;
  Scan(in, start);
  // With every checksum made to hold, the field, seal and padding rules see the mutation.
  Scan(bv::fuzz::FixSegment(in, start), start);
  return 0;
}
