// Makes a fuzzer's mutated bytes pass BV's checksums, so that the rules behind them get fuzzed:
// a random mutation fails header_xxh3 before any field is looked at, and the structural checks
// (lengths, flags, types, reserved bytes, record layouts) would never see it. Each target
// decodes its input as it is and again after these fixes.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

#include "format/block_format.h"
#include "format/coding.h"
#include "format/segment_format.h"

namespace bv::fuzz {

// One block at `at` of `bytes`: body_xxh3 over the stored_len bytes that follow the header (as
// many as there are), then header_xxh3. Returns the offset after the block.
inline size_t FixBlockAt(std::string* bytes, size_t at) {
  using namespace format;
  if (at + kBlockHeaderSize > bytes->size()) return bytes->size();
  char* h = bytes->data() + at;
  const size_t stored = std::min<size_t>(DecodeFixed32(h + 8), bytes->size() - at - kBlockHeaderSize);
  EncodeFixed64(h + 80, Checksum(std::string_view(h + kBlockHeaderSize, stored)));
  EncodeFixed64(h + kBlockHeaderChecksumOffset, Checksum(std::string_view(h, kBlockHeaderChecksumOffset)));
  return at + kBlockHeaderSize + stored;
}

// A whole block.
inline std::string FixBlock(std::string_view in) {
  std::string out(in);
  FixBlockAt(&out, 0);
  return out;
}

// A segment image: its header's checksum, then each block's in turn from `start`.
inline std::string FixSegment(std::string_view in, size_t start) {
  using namespace format;
  std::string out(in);
  if (out.size() >= kSegmentHeaderSize) {
    EncodeFixed64(out.data() + kSegmentChecksumOffset,
                  Checksum(std::string_view(out).substr(0, kSegmentChecksumOffset)));
  }
  for (size_t at = start; at < out.size();) at = FixBlockAt(&out, at);
  return out;
}

}  // namespace bv::fuzz
