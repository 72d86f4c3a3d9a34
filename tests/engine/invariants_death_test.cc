// Programmer errors stop the process (BV_ASSERT stays on in release builds): these show that the
// assertions on the write path fire, so a writer bug cannot put bytes on disk that a reader would
// refuse, or report a sync point that does not end on a page boundary.
#include <gtest/gtest.h>

#include "format/block_format.h"
#include "tests/test_util.h"

namespace bv::engine {
namespace {

class InvariantsDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(InvariantsDeathTest, AWriterNeverAppendsABlockAReaderWouldRefuse) {
  test::TestVolume tv;
  ASSERT_OK(tv.Init());
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  format::BlockHeader h;
  h.type = format::BlockType::kPadding;
  std::string block = format::EncodeBlock(h, "");
  block[20] = 1;  // a padding block with an id, its checksum now wrong
  ASSERT_OK_AND_ASSIGN(AppendLane::Guard lane, v->lane()->Lock());
  EXPECT_DEATH((void)lane.Append(block), "assertion failed: format::DecodeBlockHeader");
  h.raw_len = 10;
  std::string lying = format::EncodeBlock(h, std::string(10, '\0'));
  lying.resize(lying.size() - 1);  // stored_len says 10, 9 follow
  EXPECT_DEATH((void)lane.Append(lying), "assertion failed: format::DecodeFixed32");
}

TEST_F(InvariantsDeathTest, AnInvalidHeaderIsNeverEncoded) {
  format::BlockHeader h;
  h.type = format::BlockType::kData;  // a data block without a chunk id
  h.raw_len = 1;
  char out[format::kBlockHeaderSize];
  EXPECT_DEATH(format::EncodeBlockHeader(h, out), "assertion failed");
}

TEST_F(InvariantsDeathTest, ASyncPointIsReachedOnlyUnderTheLanesLock) {
  test::TestVolume tv;
  ASSERT_OK(tv.Init());
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  ASSERT_OK_AND_ASSIGN(AppendLane::Guard lane, v->lane()->Lock());
  AppendLane::Guard holder = std::move(lane);  // `lane` no longer holds the lock
  EXPECT_DEATH((void)lane.SyncPoint(true), "assertion failed: lock_.owns_lock");
  EXPECT_DEATH((void)lane.Append(""), "assertion failed: lock_.owns_lock");
}

}  // namespace
}  // namespace bv::engine
