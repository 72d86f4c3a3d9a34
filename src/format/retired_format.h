// DIR/RETIRED: the numbers of the segments compaction removed (format-spec §12 [CMP-5]), so that
// `fsck` tells a segment compaction removed from one that was lost, even with an index rebuilt
// from the segments. Text, written whole (NAME.tmp, fsync, rename):
//
//   retired := "BVRETIRED 2" LF (range LF)*
//   range   := number | number "-" number        the first below the second
//   number  := 1..19 decimal digits, no leading zero, 1 ≤ n < 2^63
//
// Ranges ascend and neither overlap nor touch (one ends at least two below the next one's start),
// so the file grows with the gaps between removals, not with their count: compaction removes
// mostly the oldest segments, and a volume's whole history stays a few lines. Version 1
// ("BVRETIRED 1", then one number per line, each once, in any order) is still read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace bv::format {

struct SegmentRange {
  uint64_t first = 0;
  uint64_t last = 0;  // first ≤ last
  bool operator==(const SegmentRange&) const = default;
};

inline constexpr std::string_view kRetiredMagic = "BVRETIRED 2\n";
inline constexpr std::string_view kRetiredMagicV1 = "BVRETIRED 1\n";
inline constexpr size_t kRetiredMax = 1 << 20;  // ranges (version 1: numbers) in the file
inline constexpr size_t kRetiredFileMax = kRetiredMagic.size() + kRetiredMax * 40;

// Ranges as DecodeRetired returns them: ascending, apart, each first ≤ last.
std::string EncodeRetired(const std::vector<SegmentRange>& ranges);
// Corruption naming the line for anything but the grammar above (either version); version 1's
// numbers come back as ranges.
Result<std::vector<SegmentRange>> DecodeRetired(std::string_view text);
// The ranges with `numbers` added, ascending and apart again.
std::vector<SegmentRange> AddToRanges(std::vector<SegmentRange> ranges, const std::vector<uint64_t>& numbers);
bool RangesContain(const std::vector<SegmentRange>& ranges, uint64_t n);

}  // namespace bv::format
