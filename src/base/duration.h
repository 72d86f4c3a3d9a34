// Durations in a configuration: "90s", "10m", "2h30m", "1d", a sum of whole numbers each with a
// unit (s, m, h, d, w), or a bare number of seconds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace bv {

inline constexpr uint64_t kDurationSecondsMax = 10ull * 366 * 86400;  // ten years

// Seconds; InvalidArgument says what is wrong. At most kDurationSecondsMax.
Result<uint64_t> ParseSeconds(std::string_view text);
// "2h30m", "45s", "0s": the shortest text ParseSeconds reads back as `seconds`.
std::string FormatSeconds(uint64_t seconds);

}  // namespace bv
