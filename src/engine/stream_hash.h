// The whole-stream hash recorded in a snapshot and checked at the end of every restore: XXH3-128
// under a secret derived from the volume key, so the hash confirms nothing to someone without it.
#pragma once

#define XXH_STATIC_LINKING_ONLY  // XXH3_generateSecret
#include <xxhash.h>

#include <array>
#include <string_view>

#include "engine/keys.h"

namespace bv::engine {

class StreamHash {
 public:
  explicit StreamHash(const Key& hash_key);
  ~StreamHash();
  StreamHash(const StreamHash&) = delete;
  StreamHash& operator=(const StreamHash&) = delete;
  void Update(std::string_view bytes);
  std::array<uint8_t, 16> Finish() const;

 private:
  alignas(64) unsigned char secret_[192];
  XXH3_state_t* state_;
};

}  // namespace bv::engine
