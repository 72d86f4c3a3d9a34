// The master key file and the keys derived from it: a volume that will not open under another key.
#include "engine/keys.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/test_util.h"

namespace bv::engine {
namespace {

using test::GetString;
using test::PutString;
using test::RandomBytes;
using test::TestVolume;

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
