// DIR/RETIRED: the numbers of the segments compaction removed (format-spec §12 [CMP-5]), so that
// `fsck` tells a segment compaction removed from one that was lost, even with an index rebuilt
// from the segments. Text, written whole (NAME.tmp, fsync, rename):
//
//   retired := "BVRETIRED 1" LF (number LF)*
//   number  := 1..19 decimal digits, no leading zero, 1 ≤ n < 2^63; each at most once
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace bv::format {

inline constexpr std::string_view kRetiredMagic = "BVRETIRED 1\n";
inline constexpr size_t kRetiredMax = 1 << 20;  // numbers in the file: 20 MiB at most
inline constexpr size_t kRetiredFileMax = kRetiredMagic.size() + kRetiredMax * 20;

std::string EncodeRetired(const std::vector<uint64_t>& segments);
// Corruption naming the line for anything but the grammar above.
Result<std::vector<uint64_t>> DecodeRetired(std::string_view text);

}  // namespace bv::format
