#include "engine/aead.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <sodium.h>

#include <string>
#include <thread>
#include <vector>

namespace bv::engine {
namespace {

const uint8_t* U8(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// libsodium's own XChaCha20-Poly1305, the construction that blocks have been sealed with: AeadSeal
// must give its bytes exactly, and AeadOpen must open what it seals.
std::string SodiumSeal(const Key& key, const format::Nonce& nonce, const std::string& ad, const std::string& plain) {
  std::string out(plain.size() + kAeadTagSize, '\0');
  unsigned long long n = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(reinterpret_cast<uint8_t*>(out.data()), &n, U8(plain), plain.size(),
                                             U8(ad), ad.size(), nullptr, nonce.data(), key.data());
  EXPECT_EQ(n, out.size());
  return out;
}

std::string Seal(const Key& key, const format::Nonce& nonce, const std::string& ad, const std::string& plain) {
  std::string out(plain.size() + kAeadTagSize, '\0');
  AeadSeal(key, nonce, ad, plain, reinterpret_cast<uint8_t*>(out.data()));
  return out;
}

template <typename T>
T Random() {
  T t;
  randombytes_buf(t.data(), t.size());
  return t;
}

std::string RandomString(size_t n) {
  std::string s(n, '\0');
  randombytes_buf(s.data(), n);
  return s;
}

TEST(Aead, SealsAsLibsodiumDoesAtEverySizeBoundary) {
  ASSERT_GE(sodium_init(), 0);
  const Key key = Random<Key>();
  for (size_t n : {0, 1, 15, 16, 17, 63, 64, 65, 255, 256, 257, 4096, 65535, 65536, 65537, (1 << 20) + 3}) {
    for (size_t ad_len : {0, 1, 72, 200}) {
      const format::Nonce nonce = Random<format::Nonce>();
      const std::string ad = RandomString(ad_len), plain = RandomString(n);
      const std::string sealed = SodiumSeal(key, nonce, ad, plain);
      ASSERT_EQ(Seal(key, nonce, ad, plain), sealed) << n << " bytes, " << ad_len << " bytes of ad";
      std::string opened(n, '\0');
      ASSERT_TRUE(AeadOpen(key, nonce, ad, sealed, reinterpret_cast<uint8_t*>(opened.data()))) << n;
      ASSERT_EQ(opened, plain) << n;
    }
  }
}

RC_GTEST_PROP(Aead, AnyAlteredByteOrWrongKeyNonceOrAdIsRefusedAndLeavesZeros, ()) {
  const Key key = Random<Key>();
  const format::Nonce nonce = Random<format::Nonce>();
  const std::string ad = *rc::gen::container<std::string>(*rc::gen::inRange<size_t>(0, 80), rc::gen::arbitrary<char>());
  const std::string plain = *rc::gen::arbitrary<std::string>();
  const std::string sealed = Seal(key, nonce, ad, plain);
  RC_ASSERT(sealed == SodiumSeal(key, nonce, ad, plain));
  std::string out(plain.size(), '\x5a');
  auto open = [&](const Key& k, const format::Nonce& n, const std::string& a, const std::string& s) {
    out.assign(plain.size(), '\x5a');
    return AeadOpen(k, n, a, s, reinterpret_cast<uint8_t*>(out.data()));
  };
  RC_ASSERT(open(key, nonce, ad, sealed));
  RC_ASSERT(out == plain);

  std::string altered = sealed;
  const size_t at = *rc::gen::inRange<size_t>(0, altered.size());
  altered[at] = static_cast<char>(altered[at] ^ (1 << *rc::gen::inRange(0, 8)));
  RC_ASSERT(!open(key, nonce, ad, altered));
  RC_ASSERT(out == std::string(plain.size(), '\0'));

  Key other_key = key;
  other_key[*rc::gen::inRange<size_t>(0, other_key.size())] ^= 1;
  RC_ASSERT(!open(other_key, nonce, ad, sealed));
  format::Nonce other_nonce = nonce;
  other_nonce[*rc::gen::inRange<size_t>(0, other_nonce.size())] ^= 1;
  RC_ASSERT(!open(key, other_nonce, ad, sealed));
  RC_ASSERT(!open(key, nonce, ad + "x", sealed));
}

TEST(Aead, TooShortForATagIsRefused) {
  const Key key{};
  const format::Nonce nonce{};
  uint8_t out[16];
  EXPECT_FALSE(AeadOpen(key, nonce, "", "", out));
  EXPECT_FALSE(AeadOpen(key, nonce, "", std::string(kAeadTagSize - 1, '\0'), out));
}

// Every thread has its own cipher context: threads sealing and opening at once do not mix state.
TEST(Aead, ThreadsDoNotShareState) {
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([t, &failures] {
      for (int i = 0; i < 200; i++) {
        const Key key = Random<Key>();
        const format::Nonce nonce = Random<format::Nonce>();
        const std::string plain = RandomString(static_cast<size_t>(1000 + 37 * i + t));
        const std::string sealed = Seal(key, nonce, "ad", plain);
        std::string out(plain.size(), '\0');
        if (sealed != SodiumSeal(key, nonce, "ad", plain) ||
            !AeadOpen(key, nonce, "ad", sealed, reinterpret_cast<uint8_t*>(out.data())) || out != plain) {
          failures[static_cast<size_t>(t)]++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

}  // namespace
}  // namespace bv::engine
