// [CRASH-1] [BLK-7] The whole-stream hash is the last check of every restore: a snapshot whose
// every block checks out, but whose recipe lists its chunks in another order or whose recorded
// hash is not the hash of its bytes, must fail to restore and to verify, never stream wrong bytes
// as if they were right. The metadata blocks are rewritten with valid checksums and the index is
// rebuilt from them, so nothing but the stream hash can tell.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/check.h"
#include "format/recipe_format.h"
#include "format/segment_scanner.h"
#include "format/snapshot_format.h"
#include "tests/test_util.h"

namespace bv::engine {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// A volume with one snapshot; `rewrite` changes one metadata block's payload (same length), which
// is then written back with fresh checksums; the index is rebuilt from the segments.
class StreamHash : public ::testing::Test {
 protected:
  void Make(const std::function<void(format::BlockType, std::string*)>& rewrite) {
    ASSERT_OK(tv.Init());
    {
      ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
      data = test::RandomBytes(2 << 20, 77);
      ASSERT_OK_AND_ASSIGN(auto rec, test::PutString(v.get(), "hash/a", data));
      id = rec.id;
      ASSERT_OK(v->Close());
    }
    const std::string path = tv.dir() + "/segments/" + format::SegmentFileName(1);
    std::string image = ReadFile(path);
    format::StringSource src(image);
    format::SegmentScanner scanner(&src, format::kSegmentHeaderSize, true);
    int rewritten = 0;
    for (;;) {
      ASSERT_OK_AND_ASSIGN(auto b, scanner.Next());
      if (!b) break;
      std::string payload = b->payload;
      rewrite(b->header.type, &payload);
      if (payload == b->payload) continue;
      ASSERT_EQ(payload.size(), b->payload.size());
      const std::string block = format::EncodeBlock(b->header, payload);
      image.replace(b->offset, block.size(), block);
      rewritten++;
    }
    ASSERT_EQ(rewritten, 1);
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(image.data(), static_cast<std::streamsize>(image.size()));
    std::filesystem::remove_all(tv.dir() + "/index");
    engine::OpenOptions o;
    o.rebuild_index = true;
    ASSERT_OK_AND_ASSIGN(auto v, tv.Open(o));
    ASSERT_FALSE(v->recovery().damaged);
    ASSERT_OK(v->Close());
  }

  void ExpectRestoreAndVerifyFail() {
    ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
    auto back = test::GetString(v.get(), id);
    ASSERT_FALSE(back.ok()) << "a restore streamed bytes that are not the snapshot's";
    EXPECT_NE(back.status().message().find("does not match its recorded hash"), std::string::npos)
        << back.status().message();
    CheckReport scan;  // fsck: every block is valid
    ASSERT_OK(CheckVolume(v.get(), CheckOptions{}, &scan));
    EXPECT_TRUE(scan.damage.empty());
    CheckReport r;
    ASSERT_OK(CheckVolume(v.get(), CheckOptions{true, true, {}}, &r));
    EXPECT_FALSE(r.clean());
  }

  test::TestVolume tv;
  std::string data;
  uint64_t id = 0;
};

TEST_F(StreamHash, ChunksListedInAnotherOrderFailTheRestore) {
  ASSERT_NO_FATAL_FAILURE(Make([](format::BlockType t, std::string* payload) {
    if (t != format::BlockType::kRecipe) return;
    auto r = format::DecodeRecipe(*payload);
    ASSERT_OK(r.status());
    ASSERT_GE(r->entries.size(), 2u);
    std::swap(r->entries[0], r->entries[1]);
    *payload = format::EncodeRecipe(*r);
  }));
  ExpectRestoreAndVerifyFail();
}

TEST_F(StreamHash, ARecordedHashThatIsNotTheBytesFailsTheRestore) {
  ASSERT_NO_FATAL_FAILURE(Make([](format::BlockType t, std::string* payload) {
    if (t != format::BlockType::kSnapshotCommit) return;
    auto r = format::DecodeSnapshot(*payload);
    ASSERT_OK(r.status());
    r->streams[0].hash[5] ^= 0x10;
    *payload = format::EncodeSnapshot(*r);
  }));
  ExpectRestoreAndVerifyFail();
}

}  // namespace
}  // namespace bv::engine
