// The chunks compaction must keep, as a Bloom filter over their ids: memory about 10 bits per
// chunk (12 MiB at 10 million chunks) where a set of 32-byte ids would take over 320 MiB, so it
// stays flat as the store grows. A filter may say "maybe" for a chunk that is dead (about 1 in
// 100, a different one each run since the seed is random), which only keeps that chunk until a
// later compaction; it never says "no" for a chunk it was given, which is what safety needs.
#pragma once

#include <cstdint>
#include <vector>

#include "format/block_format.h"

namespace bv::engine {

class LiveSet {
 public:
  static constexpr uint64_t kBitsPerId = 10;
  static constexpr int kProbes = 7;            // optimal for 10 bits per id: about 0.8% false "maybe"
  static constexpr uint64_t kBitsMax = 1ull << 32;  // 512 MiB: ~400 million chunks before "maybe" rises

  // Sized for `expected_ids` distinct ids.
  explicit LiveSet(uint64_t expected_ids);

  void Add(const format::Id& id);
  // False only for an id never added.
  bool MayContain(const format::Id& id) const;
  uint64_t memory_bytes() const { return words_.size() * sizeof(uint64_t); }

 private:
  std::vector<uint64_t> words_;
  uint64_t bits_;
  uint64_t seed_;
};

}  // namespace bv::engine
