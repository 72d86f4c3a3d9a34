#include "engine/aead.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <climits>
#include <cstring>

#include "base/status.h"

namespace bv::engine {

namespace {

// ChaCha20-Poly1305 takes a 12-byte nonce: 4 zero bytes, then the last 8 of XChaCha20's 24.
constexpr size_t kSubNonceSize = 12;
static_assert(format::kNonceSize == crypto_core_hchacha20_INPUTBYTES + 8);
static_assert(crypto_core_hchacha20_OUTPUTBYTES == sizeof(Key));

// One OpenSSL cipher context per thread, set to ChaCha20-Poly1305 once; each message only sets
// its key and nonce.
class CipherContext {
 public:
  CipherContext() {
    BV_ASSERT(ctx_ != nullptr && cipher_ != nullptr);
    BV_ASSERT(EVP_CipherInit_ex(ctx_, cipher_, nullptr, nullptr, nullptr, 1) == 1);
    BV_ASSERT(EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_SET_IVLEN, kSubNonceSize, nullptr) == 1);
  }
  ~CipherContext() {
    EVP_CIPHER_CTX_free(ctx_);
    EVP_CIPHER_free(cipher_);
  }
  CipherContext(const CipherContext&) = delete;
  CipherContext& operator=(const CipherContext&) = delete;

  // Sets the subkey and sub-nonce of nonce under key, for sealing (enc 1) or opening (enc 0).
  EVP_CIPHER_CTX* Start(const Key& key, const format::Nonce& nonce, int enc) {
    uint8_t subkey[sizeof(Key)];
    crypto_core_hchacha20(subkey, nonce.data(), key.data(), nullptr);
    uint8_t subnonce[kSubNonceSize] = {};
    std::memcpy(subnonce + 4, nonce.data() + crypto_core_hchacha20_INPUTBYTES, 8);
    BV_ASSERT(EVP_CipherInit_ex(ctx_, nullptr, nullptr, subkey, subnonce, enc) == 1);
    sodium_memzero(subkey, sizeof subkey);
    return ctx_;
  }

 private:
  EVP_CIPHER* cipher_ = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  EVP_CIPHER_CTX* ctx_ = EVP_CIPHER_CTX_new();
};

CipherContext& Context() {
  thread_local CipherContext ctx;
  return ctx;
}

int Len(size_t n) {
  BV_ASSERT(n <= INT_MAX);
  return static_cast<int>(n);
}

const uint8_t* Bytes(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

}  // namespace

void AeadSeal(const Key& key, const format::Nonce& nonce, std::string_view ad, std::string_view plain,
              uint8_t* out) {
  EVP_CIPHER_CTX* c = Context().Start(key, nonce, 1);
  int n = 0;
  BV_ASSERT(EVP_CipherUpdate(c, nullptr, &n, Bytes(ad), Len(ad.size())) == 1);
  BV_ASSERT(EVP_CipherUpdate(c, out, &n, Bytes(plain), Len(plain.size())) == 1 &&
            static_cast<size_t>(n) == plain.size());
  BV_ASSERT(EVP_CipherFinal_ex(c, out + n, &n) == 1 && n == 0);
  BV_ASSERT(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, kAeadTagSize, out + plain.size()) == 1);
}

bool AeadOpen(const Key& key, const format::Nonce& nonce, std::string_view ad, std::string_view sealed,
              uint8_t* out) {
  if (sealed.size() < kAeadTagSize) return false;
  const size_t len = sealed.size() - kAeadTagSize;
  EVP_CIPHER_CTX* c = Context().Start(key, nonce, 0);
  uint8_t tag[kAeadTagSize];
  std::memcpy(tag, sealed.data() + len, kAeadTagSize);
  BV_ASSERT(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, kAeadTagSize, tag) == 1);
  int n = 0;
  BV_ASSERT(EVP_CipherUpdate(c, nullptr, &n, Bytes(ad), Len(ad.size())) == 1);
  BV_ASSERT(EVP_CipherUpdate(c, out, &n, Bytes(sealed), Len(len)) == 1 && static_cast<size_t>(n) == len);
  if (EVP_CipherFinal_ex(c, out + n, &n) == 1) return true;
  sodium_memzero(out, len);  // OpenSSL decrypts before it checks: leave no unauthenticated bytes
  return false;
}

}  // namespace bv::engine
