// Where a verify job stopped (docs/jobs.md): the next segment its share of the volume begins at,
// and how far the pass over the whole volume has come. Kept in the job history's `state` column
// family under the job's name (format-spec §13); not a fact of any volume.
//
// version (1) = 1, next_segment (8), pass_start_us (8), passes (8), last_pass_end_us (8),
// pass_bytes (8). Little-endian; 41 bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace bv::format {

inline constexpr uint8_t kVerifyCursorVersion = 1;
inline constexpr size_t kVerifyCursorSize = 1 + 5 * 8;
static_assert(kVerifyCursorSize == 41);

struct VerifyCursor {
  uint64_t next_segment = 0;      // the first segment the next run checks (it starts at the first one ≥ this)
  int64_t pass_start_us = 0;      // when the pass under way began; 0 before the first run
  uint64_t passes = 0;            // whole passes completed
  int64_t last_pass_end_us = 0;   // when the last whole pass ended; 0 before the first
  uint64_t pass_bytes = 0;        // bytes the pass under way has checked so far
  bool operator==(const VerifyCursor&) const = default;
};

std::string EncodeVerifyCursor(const VerifyCursor& c);
Result<VerifyCursor> DecodeVerifyCursor(std::string_view bytes);

}  // namespace bv::format
