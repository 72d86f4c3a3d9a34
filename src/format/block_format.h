// Block: the unit of a segment. A fixed 96-byte plaintext header, then `stored_len` payload bytes.
// The header carries a checksum of itself and one of the payload, so a reader can trust the header
// (and skip the payload) before reading the payload, without any key. Spec: docs/format-spec.md §3.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace bv::format {

// Header layout, all integers little-endian:
//   magic "BVBK" (4) | type (1) | flags (1) | reserved = 0 (2) | stored_len (4) | raw_len (4)
//   | id (32) | nonce (24) | reserved = 0 (8) | body_xxh3 (8) | header_xxh3 (8)
inline constexpr size_t kBlockHeaderSize = 4 + 1 + 1 + 2 + 4 + 4 + 32 + 24 + 8 + 8 + 8;
static_assert(kBlockHeaderSize == 96);
inline constexpr size_t kBlockAdSize = 72;               // bytes 0..72 are the AEAD associated data
inline constexpr size_t kBlockHeaderChecksumOffset = 88;  // header_xxh3 covers bytes 0..88
inline constexpr uint32_t kBlockMagic = 0x4B425642;       // "BVBK"
inline constexpr uint32_t kBlockPayloadMax = 8u << 20;   // [BLK-6]
inline constexpr size_t kIdSize = 32;
inline constexpr size_t kNonceSize = 24;
inline constexpr size_t kTagSize = 16;

enum class BlockType : uint8_t {
  kData = 1,              // one chunk of a stream
  kRecipe = 2,            // a piece of a stream's chunk list
  kSnapshotCommit = 3,    // makes a snapshot exist
  kSnapshotDeletion = 4,  // makes a snapshot not exist
  kPadding = 5,           // fills to a 4096-byte boundary at a commit
  kSeal = 6,              // last block of a sealed segment
  kDelta = 7,             // reserved: a chunk stored as a zstd delta against a base chunk
};
const char* BlockTypeName(BlockType t);

inline constexpr uint8_t kFlagCompressed = 1u << 0;  // payload (before encryption) is a zstd frame
inline constexpr uint8_t kFlagEncrypted = 1u << 1;   // payload is XChaCha20-Poly1305 ciphertext+tag
inline constexpr uint8_t kFlagsKnown = kFlagCompressed | kFlagEncrypted;

using Id = std::array<uint8_t, kIdSize>;
using Nonce = std::array<uint8_t, kNonceSize>;

struct BlockHeader {
  BlockType type = BlockType::kData;
  uint8_t flags = 0;
  uint32_t stored_len = 0;
  uint32_t raw_len = 0;
  Id id{};
  Nonce nonce{};
  uint64_t body_checksum = 0;

  bool compressed() const { return flags & kFlagCompressed; }
  bool encrypted() const { return flags & kFlagEncrypted; }
  uint64_t total_size() const { return kBlockHeaderSize + stored_len; }
};

// The checksum of BV, fixed forever: XXH3-64 with seed 0.
uint64_t Checksum(std::string_view bytes);

// Writes the 96 header bytes, computing header_xxh3. The header must be valid (asserted).
void EncodeBlockHeader(const BlockHeader& h, char out[kBlockHeaderSize]);
// Header followed by payload; sets stored_len and body_checksum from the payload.
std::string EncodeBlock(BlockHeader h, std::string_view payload);

// Checks magic, header checksum, reserved bytes, type, flags, lengths and the rules of the type.
// Errors name the field and its offset within the block.
Result<BlockHeader> DecodeBlockHeader(std::string_view bytes);
// Rules every valid header obeys; used before encoding and after decoding.
Status ValidateBlockHeader(const BlockHeader& h);
// Checks body_xxh3 against the payload.
Status VerifyBlockBody(const BlockHeader& h, std::string_view payload);

// A snapshot id is 8 bytes; in a block header it fills the first 8 bytes of the id field.
Id SnapshotIdToBlockId(uint64_t snapshot_id);
uint64_t SnapshotIdFromBlockId(const Id& id);
// A whole metadata block (recipe, commit or deletion) of a snapshot: plaintext payload.
std::string EncodeSnapshotBlock(BlockType type, uint64_t snapshot_id, std::string_view payload);

}  // namespace bv::format
