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

namespace {

// The first position in [i, end) where the gear hash, carried in *fp, has no bit of `mask` set:
// that position + 1, or 0 if none (*fp is then the hash at end - 1). Four bytes a round: each
// round's hashes are the running hash shifted plus terms of the four bytes alone, so the chain
// from one round to the next is one shift and one add (the plain loop's is one per byte), and the
// result is bit for bit the plain loop's: fp' = (fp << 1) + gear[b].
size_t Scan(const std::array<uint64_t, 256>& gear, const uint8_t* data, size_t i, size_t end, uint64_t mask,
            uint64_t* fp_io) {
  uint64_t fp = *fp_io;
  // The mask is high bits, so (f & mask) == 0 exactly when f <= ~mask: one compare of the round's
  // smallest hash tests all four (2.61 -> 2.97 GB/s, BM_Chunker).
  const uint64_t limit = ~mask;
  for (; i + 4 <= end; i += 4) {
    const uint64_t g0 = gear[data[i]], g1 = gear[data[i + 1]], g2 = gear[data[i + 2]], g3 = gear[data[i + 3]];
    const uint64_t t1 = (g0 << 1) + g1, t2 = (t1 << 1) + g2, t3 = (t2 << 1) + g3;
    const uint64_t f0 = (fp << 1) + g0, f1 = (fp << 2) + t1, f2 = (fp << 3) + t2, f3 = (fp << 4) + t3;
    if (std::min(std::min(f0, f1), std::min(f2, f3)) <= limit) {
      if ((f0 & mask) == 0) return i + 1;
      if ((f1 & mask) == 0) return i + 2;
      if ((f2 & mask) == 0) return i + 3;
      return i + 4;
    }
    fp = f3;
  }
  for (; i < end; i++) {
    fp = (fp << 1) + gear[data[i]];
    if ((fp & mask) == 0) return i + 1;
  }
  *fp_io = fp;
  return 0;
}

}  // namespace

size_t Chunker::NextCut(const uint8_t* data, size_t n) const {
  if (n <= sizes_.min) return n;
  const size_t normal = std::min<size_t>(sizes_.avg, n);
  const size_t end = std::min<size_t>(sizes_.max, n);
  uint64_t fp = 0;
  size_t i = sizes_.min;
  if (i < normal) {
    if (size_t cut = Scan(gear_, data, i, normal, mask_small_, &fp)) return cut;
    i = normal;
  }
  if (i < end) {
    if (size_t cut = Scan(gear_, data, i, end, mask_large_, &fp)) return cut;
  }
  return end;
}

}  // namespace bv::engine
