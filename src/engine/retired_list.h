// DIR/RETIRED as the engine keeps it (format/retired_format.h): the numbers of the segments
// compaction removed, added to before each file goes, read by fsck to tell them from lost ones.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "format/retired_format.h"
#include "io/env.h"

namespace bv::engine {

// The numbers in DIR/RETIRED, as ranges; empty when there is none. Corruption naming the file
// and line.
Result<std::vector<format::SegmentRange>> ReadRetiredList(io::Env* env, const std::string& dir);
// Adds `segments` (each once), writing the file whole: NAME.tmp, fsync, rename, fsync of DIR.
Status AddToRetiredList(io::Env* env, const std::string& dir, const std::vector<uint64_t>& segments);

}  // namespace bv::engine
