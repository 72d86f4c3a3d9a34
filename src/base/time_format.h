// Times on the command line and in output: UTC, RFC 3339 or YYYY-MM-DD[THH:MM[:SS]].
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace bv {

// Microseconds since 1970-01-01T00:00:00Z. Accepts "2026-11-01", "2026-11-01T03:00",
// "2026-11-01T03:00:05", each optionally with "Z" or "+hh:mm"/"-hh:mm", a space in place of 'T',
// and a fraction of a second.
Result<int64_t> ParseTime(std::string_view text);
// "2026-11-01T03:00:05Z" (with ".123456" when the time has a fraction).
std::string FormatTime(int64_t time_us);
int64_t NowMicros();

}  // namespace bv
