// Keyed 256-bit chunk ids: BLAKE2b (libsodium) or HMAC-SHA-256 (OpenSSL, on the CPU's SHA
// extensions). The volume header records which; see docs/performance.md for the measurement.
#pragma once

#include <string>

#include <span>
#include <string_view>

#include "engine/keys.h"
#include "format/block_format.h"
#include "format/segment_format.h"

namespace bv::engine {

// The first 16 hex digits of a chunk id: how messages and listings name a chunk.
std::string ChunkIdHex(const format::Id& id);

format::Id ChunkId(format::IdAlgo algo, const Key& key, std::string_view data);

// ids[i] = ChunkId(algo, key, chunks[i]) for every i, faster for HMAC-SHA-256 on a CPU with the SHA
// extensions: several chunks are hashed side by side (engine/hmac_sha256.h).
void ChunkIds(format::IdAlgo algo, const Key& key, std::span<const std::string_view> chunks,
              std::span<format::Id> ids);

}  // namespace bv::engine
