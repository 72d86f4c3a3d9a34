// XChaCha20-Poly1305 (the construction of libsodium's crypto_aead_xchacha20poly1305_ietf, byte
// for byte): HChaCha20 of the key and the nonce's first 16 bytes gives a subkey, and
// ChaCha20-Poly1305 (RFC 8439) under that subkey and the nonce's last 8 bytes seals the message.
// HChaCha20 comes from libsodium and ChaCha20-Poly1305 from OpenSSL, whose AVX-512 code seals
// twice as fast as libsodium's on the machines BV targets (docs/performance.md, "Kernels").
// Safe to use from many threads at once: each thread keeps its own cipher context.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/keys.h"
#include "format/block_format.h"

namespace bv::engine {

inline constexpr size_t kAeadTagSize = 16;
static_assert(kAeadTagSize == format::kTagSize);

// Writes plain.size() + kAeadTagSize bytes to out: the ciphertext, then the tag.
// out may not overlap plain.
void AeadSeal(const Key& key, const format::Nonce& nonce, std::string_view ad, std::string_view plain,
              uint8_t* out);

// Checks the tag of sealed (ciphertext then tag) and writes sealed.size() - kAeadTagSize bytes of
// plaintext to out. False when sealed is shorter than a tag or the tag does not verify; out is
// then zeroed.
[[nodiscard]] bool AeadOpen(const Key& key, const format::Nonce& nonce, std::string_view ad,
                            std::string_view sealed, uint8_t* out);

}  // namespace bv::engine
