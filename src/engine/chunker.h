// Content-defined chunking, FastCDC style: a gear rolling hash, cut points skipped below min,
// a stricter mask below avg and a looser one above it (normalized chunking), a hard cut at max.
// The gear table comes from a per-volume seed so that chunk boundaries do not fingerprint content.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "engine/keys.h"

namespace bv::engine {

struct ChunkSizes {
  // A new volume's sizes for an average chunk of `avg` bytes. The minimum is half the average:
  // the chunker hashes a chunk only from its minimum on (docs/performance.md, "Chunk size").
  static constexpr ChunkSizes ForAverage(uint32_t avg) { return {avg / 2, avg, avg * 4}; }

  uint32_t min = 32 << 10;
  uint32_t avg = 64 << 10;  // a power of two
  uint32_t max = 256 << 10;
};
// The defaults are the sizes for their own average.
static_assert(ChunkSizes::ForAverage(ChunkSizes{}.avg).min == ChunkSizes{}.min &&
              ChunkSizes::ForAverage(ChunkSizes{}.avg).max == ChunkSizes{}.max);

class Chunker {
 public:
  Chunker(const ChunkSizes& sizes, const Key& gear_seed);
  // Length of the chunk that starts at data[0]. `n` is what is available: at least sizes.max
  // bytes unless the stream ends within them, in which case the rest is one last chunk or less.
  size_t NextCut(const uint8_t* data, size_t n) const;
  const ChunkSizes& sizes() const { return sizes_; }

 private:
  ChunkSizes sizes_;
  uint64_t mask_small_;  // used below avg: more bits, cuts less likely
  uint64_t mask_large_;  // used above avg: fewer bits, cuts more likely
  std::array<uint64_t, 256> gear_;
};

}  // namespace bv::engine
