#include "engine/chunker.h"

#include <sodium.h>

#include <algorithm>
#include <bit>

#include "base/status.h"

namespace bv::engine {

Chunker::Chunker(const ChunkSizes& sizes, const Key& gear_seed) : sizes_(sizes) {
  BV_ASSERT(sizes.min < sizes.avg && sizes.avg < sizes.max && std::has_single_bit(sizes.avg));
  BV_ASSERT(sodium_init() >= 0);
  uint8_t bytes[256 * 8];
  static_assert(sizeof bytes == sizeof(uint64_t) * 256);
  randombytes_buf_deterministic(bytes, sizeof bytes, gear_seed.data());
  for (size_t i = 0; i < 256; i++) {
    uint64_t v = 0;
    for (int b = 0; b < 8; b++) v |= uint64_t{bytes[i * 8 + b]} << (8 * b);
    gear_[i] = v;
  }
  // The gear hash shifts left, so its high bits depend on the last 64 bytes: the masks use them.
  const int bits = std::countr_zero(sizes.avg);
  mask_small_ = ~uint64_t{0} << (64 - (bits + 2));
  mask_large_ = ~uint64_t{0} << (64 - (bits - 2));
}

size_t Chunker::NextCut(const uint8_t* data, size_t n) const {
  if (n <= sizes_.min) return n;
  const size_t normal = std::min<size_t>(sizes_.avg, n);
  const size_t end = std::min<size_t>(sizes_.max, n);
  uint64_t fp = 0;
  size_t i = sizes_.min;
  for (; i < normal; i++) {
    fp = (fp << 1) + gear_[data[i]];
    if ((fp & mask_small_) == 0) return i + 1;
  }
  for (; i < end; i++) {
    fp = (fp << 1) + gear_[data[i]];
    if ((fp & mask_large_) == 0) return i + 1;
  }
  return end;
}

}  // namespace bv::engine
