// Keyed 256-bit chunk ids: BLAKE2b (libsodium) or HMAC-SHA-256 (OpenSSL, on the CPU's SHA
// extensions). The volume header records which; see docs/performance.md for the measurement.
#pragma once

#include <string_view>

#include "engine/keys.h"
#include "format/block_format.h"
#include "format/segment_format.h"

namespace bv::engine {

format::Id ChunkId(format::IdAlgo algo, const Key& key, std::string_view data);

}  // namespace bv::engine
