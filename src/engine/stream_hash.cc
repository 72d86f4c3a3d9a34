#include "engine/stream_hash.h"

#include "base/status.h"

namespace bv::engine {

StreamHash::StreamHash(const Key& hash_key) : state_(XXH3_createState()) {
  BV_ASSERT(state_ != nullptr);
  BV_ASSERT(XXH3_generateSecret(secret_, sizeof secret_, hash_key.data(), hash_key.size()) == XXH_OK);
  BV_ASSERT(XXH3_128bits_reset_withSecret(state_, secret_, sizeof secret_) == XXH_OK);
}

StreamHash::~StreamHash() { XXH3_freeState(state_); }

void StreamHash::Update(std::string_view bytes) { XXH3_128bits_update(state_, bytes.data(), bytes.size()); }

std::array<uint8_t, 16> StreamHash::Finish() const {
  XXH128_hash_t h = XXH3_128bits_digest(state_);
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, h);
  std::array<uint8_t, 16> out;
  for (size_t i = 0; i < 16; i++) out[i] = c.digest[i];
  return out;
}

}  // namespace bv::engine
