// Chunk ids for the index benchmarks: random, and the same sequence for the same seed.
#pragma once

#include <cstring>
#include <random>

#include "format/block_format.h"

namespace bv::bench {

inline format::Id RandomId(std::mt19937_64& rng) {
  format::Id id;
  for (size_t i = 0; i < id.size(); i += 8) {
    const uint64_t v = rng();
    std::memcpy(id.data() + i, &v, 8);
  }
  return id;
}

}  // namespace bv::bench
