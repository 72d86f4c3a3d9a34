#include "engine/live_set.h"

#include <sodium.h>
#include <xxhash.h>

#include <algorithm>

#include "base/status.h"

namespace bv::engine {

LiveSet::LiveSet(uint64_t expected_ids) {
  bits_ = std::clamp<uint64_t>(expected_ids * kBitsPerId, 1 << 16, kBitsMax);
  words_.assign((bits_ + 63) / 64, 0);
  BV_ASSERT(sodium_init() >= 0);
  randombytes_buf(&seed_, sizeof seed_);
}

namespace {

// Probe i of `id` (double hashing: h1 + i·h2).
struct Probes {
  uint64_t h1, h2;
};

Probes ProbesOf(const format::Id& id, uint64_t seed) {
  const XXH128_hash_t h = XXH3_128bits_withSeed(id.data(), id.size(), seed);
  return Probes{h.low64, h.high64 | 1};
}

}  // namespace

void LiveSet::Add(const format::Id& id) {
  const Probes p = ProbesOf(id, seed_);
  for (int i = 0; i < kProbes; i++) {
    const uint64_t bit = (p.h1 + static_cast<uint64_t>(i) * p.h2) % bits_;
    words_[bit / 64] |= uint64_t{1} << (bit % 64);
  }
}

bool LiveSet::MayContain(const format::Id& id) const {
  const Probes p = ProbesOf(id, seed_);
  for (int i = 0; i < kProbes; i++) {
    const uint64_t bit = (p.h1 + static_cast<uint64_t>(i) * p.h2) % bits_;
    if ((words_[bit / 64] & (uint64_t{1} << (bit % 64))) == 0) return false;
  }
  return true;
}

}  // namespace bv::engine
