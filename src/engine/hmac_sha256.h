// HMAC-SHA-256 of many messages at once, side by side on the CPU's SHA extensions.
//
// One SHA-256 stream is bound by the latency of the rounds instruction (sha256rnds2), not by how
// many the core can issue: three independent messages hashed in step keep it busy. On the Zen 4
// of docs/performance.md that is 3.97 GB/s against 1.75 GB/s for OpenSSL's HMAC one message at a
// time (2 lanes: 3.31, 4 lanes: 3.58, as four no longer fit the 16 SSE registers). OpenSSL has no
// multi-message API; Intel's libipsec-mb has one but refuses messages over 65535 bytes.
// The output is HMAC-SHA-256 (RFC 2104, FIPS 180-4) byte for byte; tests pin it to OpenSSL's.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace bv::engine {

inline constexpr size_t kHmacSha256KeyMax = 64;  // one SHA-256 block; longer keys are not needed
inline constexpr size_t kHmacSha256Lanes = 3;

using Sha256Digest = std::array<uint8_t, 32>;

// Whether this CPU has what HmacSha256Lanes needs (SHA extensions, SSSE3, SSE4.1).
bool HmacSha256LanesSupported();

// out[i] = HMAC-SHA-256(key, messages[i]) for every i. Requires HmacSha256LanesSupported() and
// key.size() <= kHmacSha256KeyMax; out.size() == messages.size().
void HmacSha256Lanes(std::span<const uint8_t> key, std::span<const std::string_view> messages,
                     std::span<Sha256Digest> out);

}  // namespace bv::engine
