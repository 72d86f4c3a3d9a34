#include "engine/hmac_sha256.h"

#include <cstring>
#include <utility>

#include "base/status.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace bv::engine {

#if defined(__x86_64__)

namespace {

#define BV_SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))

constexpr size_t kBlockSize = 64;

// FIPS 180-4, 4.2.2 and 5.3.3.
alignas(16) constexpr uint32_t kRoundConstants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
constexpr uint32_t kInitialHash[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                      0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

// The eight working words as the rounds instruction wants them: ABEF and CDGH.
struct State {
  __m128i abef, cdgh;
};

BV_SHA_TARGET State FromWords(const uint32_t h[8]) {
  const __m128i dcba = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(&h[0])), 0xB1);
  const __m128i efgh = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(&h[4])), 0x1B);
  return {_mm_alignr_epi8(dcba, efgh, 8), _mm_blend_epi16(efgh, dcba, 0xF0)};
}

BV_SHA_TARGET void ToWords(const State& s, uint32_t h[8]) {
  const __m128i feba = _mm_shuffle_epi32(s.abef, 0x1B);
  const __m128i dchg = _mm_shuffle_epi32(s.cdgh, 0xB1);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(&h[0]), _mm_blend_epi16(feba, dchg, 0xF0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(&h[4]), _mm_alignr_epi8(dchg, feba, 8));
}

// Rounds 4q .. 4q+3 of N lanes. Quad q of the message schedule (words 4q .. 4q+3) sits in
// w[k][q % 4]; after the rounds that use it, it helps make quad q + 1 (sha256msg2) and
// starts quad q + 3 (sha256msg1):
//   quad(q) = msg2(msg1(quad(q-4), quad(q-3)) + alignr(quad(q-1), quad(q-2)), quad(q-1)).
template <size_t N, int Q>
BV_SHA_TARGET __attribute__((always_inline)) inline void FourRounds(State* s, __m128i (*w)[4],
                                                                      const uint8_t* const* block) {
  const __m128i shuffle = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  const __m128i k = _mm_load_si128(reinterpret_cast<const __m128i*>(&kRoundConstants[4 * Q]));
#pragma GCC unroll 4
  for (size_t i = 0; i < N; i++) {
    if constexpr (Q < 4) {
      w[i][Q] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block[i] + 16 * Q)), shuffle);
    }
    __m128i wk = _mm_add_epi32(w[i][Q % 4], k);
    s[i].cdgh = _mm_sha256rnds2_epu32(s[i].cdgh, s[i].abef, wk);
    if constexpr (Q >= 3 && Q <= 14) {
      __m128i& next = w[i][(Q + 1) % 4];
      next = _mm_add_epi32(next, _mm_alignr_epi8(w[i][Q % 4], w[i][(Q + 3) % 4], 4));
      next = _mm_sha256msg2_epu32(next, w[i][Q % 4]);
    }
    wk = _mm_shuffle_epi32(wk, 0x0E);
    s[i].abef = _mm_sha256rnds2_epu32(s[i].abef, s[i].cdgh, wk);
    if constexpr (Q >= 1 && Q <= 12) w[i][(Q + 3) % 4] = _mm_sha256msg1_epu32(w[i][(Q + 3) % 4], w[i][Q % 4]);
  }
}

template <size_t N, int... Q>
BV_SHA_TARGET __attribute__((always_inline)) inline void AllRounds(State* s, __m128i (*w)[4],
                                                                     const uint8_t* const* block,
                                                                     std::integer_sequence<int, Q...>) {
  (FourRounds<N, Q>(s, w, block), ...);
}

// Compresses `count` consecutive blocks into each of N lanes: lane i reads from data[i].
template <size_t N>
BV_SHA_TARGET void Compress(State* s, const uint8_t* const* data, size_t count) {
  const uint8_t* block[N];
  for (size_t i = 0; i < N; i++) block[i] = data[i];
  for (size_t b = 0; b < count; b++) {
    State before[N];
    __m128i w[N][4];
#pragma GCC unroll 4
    for (size_t i = 0; i < N; i++) before[i] = s[i];
    AllRounds<N>(s, w, block, std::make_integer_sequence<int, 16>());
#pragma GCC unroll 4
    for (size_t i = 0; i < N; i++) {
      s[i].abef = _mm_add_epi32(s[i].abef, before[i].abef);
      s[i].cdgh = _mm_add_epi32(s[i].cdgh, before[i].cdgh);
      block[i] += kBlockSize;
    }
  }
}

BV_SHA_TARGET void CompressLanes(size_t lanes, State* s, const uint8_t* const* data, size_t count) {
  static_assert(kHmacSha256Lanes == 3);
  switch (lanes) {
    case 3: return Compress<3>(s, data, count);
    case 2: return Compress<2>(s, data, count);
    case 1: return Compress<1>(s, data, count);
  }
  BV_ASSERT(false);
}

void StoreBigEndian(uint64_t v, uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = static_cast<uint8_t>(v >> (8 * (n - 1 - i)));
}

// Pads the last `tail_len` bytes of a message of `total` bytes (counting what was compressed
// before) and compresses them: one block, or two when the length does not fit after the tail.
BV_SHA_TARGET void Finish(State* s, const uint8_t* tail, size_t tail_len, uint64_t total, Sha256Digest* out) {
  BV_ASSERT(tail_len < kBlockSize);
  uint8_t last[2 * kBlockSize] = {};
  std::memcpy(last, tail, tail_len);
  last[tail_len] = 0x80;
  const size_t blocks = tail_len + 1 + 8 <= kBlockSize ? 1 : 2;
  StoreBigEndian(total * 8, last + blocks * kBlockSize - 8, 8);
  const uint8_t* p = last;
  Compress<1>(s, &p, blocks);
  uint32_t h[8];
  ToWords(*s, h);
  for (size_t i = 0; i < 8; i++) StoreBigEndian(h[i], out->data() + 4 * i, 4);
}

// The state after the key block: HMAC's K xor ipad or K xor opad.
BV_SHA_TARGET State KeyedStart(std::span<const uint8_t> key, uint8_t pad) {
  uint8_t block[kBlockSize];
  std::memset(block, pad, sizeof block);
  for (size_t i = 0; i < key.size(); i++) block[i] ^= key[i];
  State s = FromWords(kInitialHash);
  const uint8_t* p = block;
  Compress<1>(&s, &p, 1);
  return s;
}

// A message in a lane: where its next block is and how many whole blocks are left.
struct Job {
  size_t index;
  const uint8_t* next;
  size_t blocks_left;
};

BV_SHA_TARGET void Lanes(std::span<const uint8_t> key, std::span<const std::string_view> messages,
                         std::span<Sha256Digest> out) {
  const State inner = KeyedStart(key, 0x36);
  const State outer = KeyedStart(key, 0x5c);
  State state[kHmacSha256Lanes];
  Job job[kHmacSha256Lanes];
  size_t active = 0;
  size_t taken = 0;
  auto take = [&](size_t lane) {
    if (taken == messages.size()) return false;
    const std::string_view m = messages[taken];
    state[lane] = inner;
    job[lane] = {taken, reinterpret_cast<const uint8_t*>(m.data()), m.size() / kBlockSize};
    taken++;
    return true;
  };
  while (active < kHmacSha256Lanes && take(active)) active++;
  while (active > 0) {
    // Every lane runs until the first of them has no whole block left; that one is finished
    // and takes the next message, so lanes stay full until the messages run out.
    size_t steps = job[0].blocks_left;
    for (size_t i = 1; i < active; i++) steps = std::min(steps, job[i].blocks_left);
    const uint8_t* data[kHmacSha256Lanes];
    for (size_t i = 0; i < active; i++) data[i] = job[i].next;
    CompressLanes(active, state, data, steps);
    for (size_t i = 0; i < active; i++) {
      job[i].next += steps * kBlockSize;
      job[i].blocks_left -= steps;
    }
    for (size_t i = 0; i < active;) {
      if (job[i].blocks_left > 0) {
        i++;
        continue;
      }
      const std::string_view m = messages[job[i].index];
      Sha256Digest& digest = out[job[i].index];
      Finish(&state[i], job[i].next, m.size() % kBlockSize, kBlockSize + m.size(), &digest);
      State o = outer;
      Finish(&o, digest.data(), digest.size(), kBlockSize + digest.size(), &digest);
      if (!take(i)) {
        active--;
        state[i] = state[active];
        job[i] = job[active];
      }
    }
  }
}

#undef BV_SHA_TARGET

}  // namespace

bool HmacSha256LanesSupported() {
  static const bool supported = [] {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    const bool ssse3 = (c & bit_SSSE3) != 0, sse41 = (c & bit_SSE4_1) != 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    return ssse3 && sse41 && (b & bit_SHA) != 0;
  }();
  return supported;
}

void HmacSha256Lanes(std::span<const uint8_t> key, std::span<const std::string_view> messages,
                     std::span<Sha256Digest> out) {
  BV_ASSERT(HmacSha256LanesSupported() && key.size() <= kHmacSha256KeyMax && out.size() == messages.size());
  Lanes(key, messages, out);
}

#else  // no SHA extensions to use

bool HmacSha256LanesSupported() { return false; }

void HmacSha256Lanes(std::span<const uint8_t>, std::span<const std::string_view>, std::span<Sha256Digest>) {
  BV_ASSERT(false);
}

#endif

}  // namespace bv::engine
