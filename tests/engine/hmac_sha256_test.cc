#include "engine/hmac_sha256.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rapidcheck/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "engine/chunk_id.h"
#include "tests/test_util.h"

namespace bv::engine {
namespace {

std::span<const uint8_t> Bytes(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

using test::Hex;

Sha256Digest OpenSslHmac(const std::string& key, std::string_view message) {
  Sha256Digest d;
  unsigned int len = 0;
  EXPECT_NE(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                 reinterpret_cast<const uint8_t*>(message.data()), message.size(), d.data(), &len),
            nullptr);
  EXPECT_EQ(len, d.size());
  return d;
}

std::vector<Sha256Digest> Lanes(const std::string& key, const std::vector<std::string_view>& messages) {
  std::vector<Sha256Digest> out(messages.size());
  HmacSha256Lanes(Bytes(key), messages, out);
  return out;
}

#define SKIP_WITHOUT_SHA_EXTENSIONS()                                          \
  if (!HmacSha256LanesSupported()) GTEST_SKIP() << "this CPU has no SHA extensions"

// RFC 4231, test cases 1 to 3.
TEST(HmacSha256, Rfc4231Vectors) {
  SKIP_WITHOUT_SHA_EXTENSIONS();
  const std::string data3(50, '\xdd');
  EXPECT_EQ(Hex(Lanes(std::string(20, '\x0b'), {"Hi There"})[0]),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(Hex(Lanes("Jefe", {"what do ya want for nothing?"})[0]),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(Hex(Lanes(std::string(20, '\xaa'), {data3})[0]),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
}

// Lengths 0 to 300 cover every way the padding falls (one block or two, the length field split
// or not) in every lane, as lanes finish and take the next message at different times.
TEST(HmacSha256, EveryPaddingCaseMatchesOpenSsl) {
  SKIP_WITHOUT_SHA_EXTENSIONS();
  std::mt19937_64 rng(4231);
  std::string buffer(400, '\0');
  for (char& c : buffer) c = static_cast<char>(rng());
  const std::string key(32, '\x5a');
  std::vector<std::string_view> messages;
  for (size_t n = 0; n <= 300; n++) messages.push_back(std::string_view(buffer).substr(n % 7, n));
  const auto out = Lanes(key, messages);
  for (size_t i = 0; i < messages.size(); i++) {
    EXPECT_EQ(Hex(out[i]), Hex(OpenSslHmac(key, messages[i]))) << "length " << messages[i].size();
  }
}

TEST(HmacSha256, NoMessagesIsNothingToDo) {
  SKIP_WITHOUT_SHA_EXTENSIONS();
  EXPECT_TRUE(Lanes("k", {}).empty());
}

// Any key up to a block, any number of messages of any lengths (some long, most chunk-sized,
// some empty), overlapping or not: what OpenSSL computes one by one.
RC_GTEST_PROP(HmacSha256, MatchesOpenSslOneByOne, ()) {
  if (!HmacSha256LanesSupported()) return;
  const auto key = *rc::gen::container<std::string>(*rc::gen::inRange<size_t>(0, kHmacSha256KeyMax + 1),
                                                    rc::gen::arbitrary<char>());
  const auto seed = *rc::gen::arbitrary<uint64_t>();
  const auto lengths = *rc::gen::container<std::vector<size_t>>(
      rc::gen::oneOf(rc::gen::inRange<size_t>(0, 200), rc::gen::inRange<size_t>(16 << 10, 300 << 10)));
  std::mt19937_64 rng(seed);
  std::string buffer((300 << 10) + 64, '\0');
  for (char& c : buffer) c = static_cast<char>(rng());
  std::vector<std::string_view> messages;
  for (size_t n : lengths) messages.push_back(std::string_view(buffer).substr(rng() % 64, n));
  const auto out = Lanes(key, messages);
  for (size_t i = 0; i < messages.size(); i++) RC_ASSERT(Hex(out[i]) == Hex(OpenSslHmac(key, messages[i])));
}

// Chunk ids in bulk are the ids one at a time, for both algorithms, whichever path the CPU takes.
TEST(ChunkIds, AreChunkIdOneByOne) {
  Key key;
  key.fill(0x42);
  std::string buffer(1 << 20, '\0');
  std::mt19937_64 rng(7);
  for (char& c : buffer) c = static_cast<char>(rng());
  std::vector<std::string_view> chunks;
  for (size_t pos = 0, n = 0; pos + n <= buffer.size(); pos += n, n = rng() % (100 << 10)) {
    chunks.push_back(std::string_view(buffer).substr(pos, n));
  }
  ASSERT_GT(chunks.size(), 10u);
  for (auto algo : {format::IdAlgo::kHmacSha256, format::IdAlgo::kBlake2bKeyed}) {
    std::vector<format::Id> ids(chunks.size());
    ChunkIds(algo, key, chunks, ids);
    for (size_t i = 0; i < chunks.size(); i++) EXPECT_EQ(ids[i], ChunkId(algo, key, chunks[i])) << i;
  }
}

}  // namespace
}  // namespace bv::engine
