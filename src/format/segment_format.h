// Segment header and volume file: 4096 bytes each, carrying the volume's parameters, so that any
// one segment says how to read itself. Spec: docs/format-spec.md §2.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace bv::format {

inline constexpr size_t kSegmentHeaderSize = 4096;   // [SEG-1] also the write alignment
inline constexpr size_t kPageSize = 4096;
inline constexpr uint16_t kFormatMajor = 1;
inline constexpr uint16_t kFormatMinor = 0;
inline constexpr char kSegmentMagic[8] = {'B', 'V', 'S', 'E', 'G', '\r', '\n', '\x1a'};
inline constexpr char kVolumeMagic[8] = {'B', 'V', 'V', 'O', 'L', '\r', '\n', '\x1a'};
// magic (8) | major (2) | minor (2) | header_size (4) | segment_number (8) | params (80)
//   | reserved = 0 | header_xxh3 (8) at 4088
inline constexpr size_t kSegmentParamsOffset = 24;
inline constexpr size_t kSegmentChecksumOffset = kSegmentHeaderSize - 8;

inline constexpr uint32_t kChunkSizeMin = 1024;
inline constexpr uint32_t kChunkSizeMax = 4u << 20;
inline constexpr uint64_t kSegmentSizeMin = 1u << 20;
inline constexpr uint64_t kSegmentSizeMax = 1ull << 40;

enum class ChunkerAlgo : uint8_t { kFastCdcGear = 1 };
enum class IdAlgo : uint8_t { kBlake2bKeyed = 1, kHmacSha256 = 2 };
enum class Cipher : uint8_t { kNone = 0, kXChaCha20Poly1305 = 1 };
enum class Compression : uint8_t { kZstd = 1 };

// The defaults are one valid set, for decoders and tests to start from; a new volume's values are
// chosen by the engine (engine::InitOptions).
struct VolumeParams {
  std::array<uint8_t, 16> uuid{};
  int64_t created_us = 0;
  ChunkerAlgo chunker = ChunkerAlgo::kFastCdcGear;
  IdAlgo id_algo = IdAlgo::kBlake2bKeyed;
  Cipher cipher = Cipher::kXChaCha20Poly1305;
  Compression compression = Compression::kZstd;
  uint32_t chunk_min = 32 << 10;
  uint32_t chunk_avg = 64 << 10;
  uint32_t chunk_max = 256 << 10;
  uint64_t segment_size = 256ull << 20;
  // Encrypted volume: a keyed hash that tells a right key from a wrong one.
  // Unencrypted volume: the chunk-id key itself (nothing to hide).
  std::array<uint8_t, 32> key_check{};

  std::string UuidString() const;
};

Status ValidateVolumeParams(const VolumeParams& p);

struct SegmentHeader {
  uint64_t segment_number = 0;
  VolumeParams params;
};

std::string EncodeSegmentHeader(const SegmentHeader& h);
Result<SegmentHeader> DecodeSegmentHeader(std::string_view bytes);

// The volume file (DIR/VOLUME) is a segment header with its own magic and segment number 0.
std::string EncodeVolumeFile(const VolumeParams& p);
Result<VolumeParams> DecodeVolumeFile(std::string_view bytes);

// Seal payload: segment_number (8) | seal_offset (8) | block_count (8).
struct SealRecord {
  uint64_t segment_number = 0;
  uint64_t seal_offset = 0;   // offset of the seal block itself
  uint64_t block_count = 0;   // blocks before the seal
};
inline constexpr size_t kSealPayloadSize = 24;
std::string EncodeSeal(const SealRecord& s);
Result<SealRecord> DecodeSeal(std::string_view payload);

// Segment files are named seg-<number, 12 decimal digits>.bvs.
std::string SegmentFileName(uint64_t number);
bool ParseSegmentFileName(std::string_view name, uint64_t* number);

}  // namespace bv::format
