// The master key file and the keys derived from it: derivation pinned to golden values (a volume's
// key check and a tenant's key must never change), key files written and refused, and a volume
// that will not open under another key.
#include "engine/keys.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "tests/test_util.h"

namespace bv::engine {
namespace {

using test::GetString;
using test::PutString;
using test::RandomBytes;
using test::TestVolume;
using test::CountingKey;
using test::Hex;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  ASSERT_TRUE(f.good());
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// crypto_kdf is keyed BLAKE2b-256 with the subkey id as salt and "BVkeys01" as personalisation;
// the values come from Python's hashlib.blake2b with those parameters.
TEST(Keys, DerivedKeysMatchGoldenValues) {
  const VolumeKeys k = DeriveKeys(CountingKey(), true);
  EXPECT_EQ(Hex(k.id_key), "abee9a19bf699a98865ceabda149bee8d7479684bf66b87612d064d4b65bac7e");
  EXPECT_EQ(Hex(k.check), "16c033a0371580e82b337824ac40c98bdce023fe1edf977780120ce2765e5b19");
  EXPECT_EQ(Hex(DeriveTenantKey(CountingKey(), "acme")),
            "34583a3205a9516feac7f047f63f11906c2cd29ca7e4a5928670f828f8a97df6");
}

TEST(Keys, DeriveKeysIsDeterministicAndNoTwoPurposesShareAKey) {
  const Key master = CountingKey();
  const VolumeKeys a = DeriveKeys(master, true);
  const VolumeKeys b = DeriveKeys(master, false);
  EXPECT_TRUE(a.encrypted);
  EXPECT_FALSE(b.encrypted);
  const std::vector<Key> keys = {a.id_key, a.data_key, a.gear_seed, a.hash_key, a.check};
  EXPECT_EQ(keys, (std::vector<Key>{b.id_key, b.data_key, b.gear_seed, b.hash_key, b.check}));
  std::set<Key> distinct(keys.begin(), keys.end());
  distinct.insert(master);
  EXPECT_EQ(distinct.size(), keys.size() + 1);
  Key other = master;
  other[0] ^= 1;
  const VolumeKeys c = DeriveKeys(other, true);
  EXPECT_NE(c.id_key, a.id_key);
  EXPECT_NE(c.data_key, a.data_key);
  EXPECT_NE(c.check, a.check);
}

TEST(Keys, TenantKeysAreDeterministicAndDistinctPerTenantAndMaster) {
  const Key master = CountingKey();
  EXPECT_EQ(DeriveTenantKey(master, "acme"), DeriveTenantKey(master, "acme"));
  std::set<Key> keys = {master};
  for (const char* tenant : {"acme", "acme2", "Acme", "", "other"}) keys.insert(DeriveTenantKey(master, tenant));
  EXPECT_EQ(keys.size(), 6u);
  Key other = master;
  other[7] ^= 0x80;
  EXPECT_NE(DeriveTenantKey(other, "acme"), DeriveTenantKey(master, "acme"));
}

TEST(Keys, KeyFileRoundTripsWithModeOwnerOnly) {
  test::TempDir tmp;
  const std::string path = tmp / "keys/sub/master.key";  // directories are made
  Key made;
  ASSERT_OK(CreateMasterKeyFile(io::SystemEnv(), path, &made));
  const std::string text = ReadFile(path);
  EXPECT_EQ(text, "bv-master-key-v1 " + Hex(made) + "\n");
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  ASSERT_OK_AND_ASSIGN(Key loaded, LoadMasterKeyFile(io::SystemEnv(), path));
  EXPECT_EQ(loaded, made);
  Key second;
  ASSERT_OK(CreateMasterKeyFile(io::SystemEnv(), tmp / "second.key", &second));
  EXPECT_NE(second, made);  // random, not derived from anything
}

TEST(Keys, CreateMasterKeyFileRefusesToOverwrite) {
  test::TempDir tmp;
  const std::string path = tmp / "master.key";
  Key first;
  ASSERT_OK(CreateMasterKeyFile(io::SystemEnv(), path, &first));
  const std::string before = ReadFile(path);
  Key again;
  EXPECT_FALSE(CreateMasterKeyFile(io::SystemEnv(), path, &again).ok());
  EXPECT_EQ(ReadFile(path), before);
  ASSERT_OK_AND_ASSIGN(Key loaded, LoadMasterKeyFile(io::SystemEnv(), path));
  EXPECT_EQ(loaded, first);
}

TEST(Keys, LoadMasterKeyFileRefusesAnythingElse) {
  test::TempDir tmp;
  const std::string hex = Hex(CountingKey());
  const std::string good = "bv-master-key-v1 " + hex + "\n";
  WriteFile(tmp / "good", good);
  ASSERT_OK_AND_ASSIGN(Key k, LoadMasterKeyFile(io::SystemEnv(), tmp / "good"));
  EXPECT_EQ(k, CountingKey());
  struct Bad {
    const char* why;
    std::string text;
    const char* says;
  };
  std::string not_hex = good;
  not_hex[17 + 20] = 'g';
  for (const Bad& b : std::vector<Bad>{
           {"other tag", "bv-master-key-v2 " + hex + "\n", "not a BV master key file"},
           {"no tag", hex + "\n", "not a BV master key file"},
           {"half a key", "bv-master-key-v1 " + hex.substr(0, 32) + "\n", "not a BV master key file"},
           {"63 digits", "bv-master-key-v1 " + hex.substr(0, 63) + "\n", "not 64 hex digits"},
           {"not hex", not_hex, "not 64 hex digits"},
           {"empty", "", "not a BV master key file"},
       }) {
    WriteFile(tmp / "bad", b.text);
    auto r = LoadMasterKeyFile(io::SystemEnv(), tmp / "bad");
    ASSERT_FALSE(r.ok()) << b.why;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << b.why;
    EXPECT_NE(r.status().message().find(b.says), std::string::npos) << b.why << ": " << r.status().message();
  }
  EXPECT_FALSE(LoadMasterKeyFile(io::SystemEnv(), tmp / "missing").ok());
}

TEST(Keys, DefaultKeyDirIsBvKeyDirThenHome) {
  const char* old_dir = std::getenv("BV_KEY_DIR");
  const std::string saved_dir = old_dir ? old_dir : "";
  const char* old_home = std::getenv("HOME");
  const std::string saved_home = old_home ? old_home : "";
  ::setenv("BV_KEY_DIR", "/somewhere/keys", 1);
  ::setenv("HOME", "/home/someone", 1);
  EXPECT_EQ(DefaultKeyDir(), "/somewhere/keys");
  ::unsetenv("BV_KEY_DIR");
  EXPECT_EQ(DefaultKeyDir(), "/home/someone/.config/bv/keys");
  ::unsetenv("HOME");
  EXPECT_EQ(DefaultKeyDir(), "/etc/bv/keys");
  if (old_dir) ::setenv("BV_KEY_DIR", saved_dir.c_str(), 1);
  if (old_home) ::setenv("HOME", saved_home.c_str(), 1);
}

TEST(Keys, WrongKeyIsRefusedAndUnencryptedVolumesWork) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  std::string other_key = tv.tmp / "other.key";
  Key k;
  ASSERT_OK(CreateMasterKeyFile(io::SystemEnv(), other_key, &k));
  engine::OpenOptions o;
  o.key_file = other_key;
  o.backend = test::TestBackend();
  auto v = Volume::Open(tv.dir(), o);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("is not the key"), std::string::npos) << v.status().message();

  TestVolume plain;
  engine::InitOptions io;
  io.encrypt = false;
  ASSERT_OK(plain.Init(io));
  EXPECT_FALSE(std::filesystem::exists(plain.key()));
  ASSERT_OK_AND_ASSIGN(auto pv, plain.Open());
  const std::string d = RandomBytes(1 << 20, 99);
  ASSERT_OK_AND_ASSIGN(auto rec, PutString(pv.get(), "plain/x", d));
  ASSERT_OK_AND_ASSIGN(std::string back, GetString(pv.get(), rec.id));
  EXPECT_TRUE(back == d);
}

TEST(Keys, KeyFileInsideTheVolumeIsRefused) {
  TestVolume tv;
  engine::InitOptions o;
  o.key_file = tv.dir() + "/key";
  std::string path;
  auto s = Volume::Init(tv.dir(), o, &path);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("outside"), std::string::npos);
}

}  // namespace
}  // namespace bv::engine
