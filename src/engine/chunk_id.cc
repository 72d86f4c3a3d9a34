#include "engine/chunk_id.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <type_traits>

#include "engine/hmac_sha256.h"

namespace bv::engine {

std::string ChunkIdHex(const format::Id& id) {
  char hex[2 * format::kIdSize + 1];
  sodium_bin2hex(hex, sizeof hex, id.data(), id.size());
  return std::string(hex, 16);
}

format::Id ChunkId(format::IdAlgo algo, const Key& key, std::string_view data) {
  format::Id id;
  const auto* in = reinterpret_cast<const uint8_t*>(data.data());
  if (algo == format::IdAlgo::kBlake2bKeyed) {
    crypto_generichash(id.data(), id.size(), in, data.size(), key.data(), key.size());
  } else {
    unsigned int len = 0;
    BV_ASSERT(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), in, data.size(), id.data(),
                   &len) != nullptr && len == id.size());
  }
  return id;
}

void ChunkIds(format::IdAlgo algo, const Key& key, std::span<const std::string_view> chunks,
              std::span<format::Id> ids) {
  BV_ASSERT(chunks.size() == ids.size());
  if (algo == format::IdAlgo::kHmacSha256 && HmacSha256LanesSupported()) {
    static_assert(std::is_same_v<format::Id, Sha256Digest>);
    HmacSha256Lanes(key, chunks, ids);
    return;
  }
  for (size_t i = 0; i < chunks.size(); i++) ids[i] = ChunkId(algo, key, chunks[i]);
}

}  // namespace bv::engine
