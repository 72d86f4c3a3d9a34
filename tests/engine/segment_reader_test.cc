// The segment reader: a block by its location, its header checked against the location and its
// body against body_xxh3; every failure is Corruption naming the segment and the offset.
#include "engine/segment_reader.h"

#include <gtest/gtest.h>

#include "engine/segment_writer.h"
#include "tests/engine/segment_fixture.h"

namespace bv::engine {
namespace {

using test::FlipByte;
using test::PlainBlock;

class SegmentReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    d_.params.segment_size = 16 << 20;  // every block in segment 1
    ASSERT_OK_AND_ASSIGN(auto w, SegmentWriter::Open(&d_.files, d_.params, 1, 0, 0));
    for (size_t n : {size_t{700}, size_t{100000}, size_t{5}, size_t{2000000}, size_t{300}}) {
      payloads_.push_back(PlainBlock(n, n).substr(format::kBlockHeaderSize));
      ASSERT_OK_AND_ASSIGN(Location loc, w->Append(PlainBlock(n, n)));
      ASSERT_EQ(loc.segment, 1u);
      locs_.push_back(loc);
    }
    ASSERT_OK(w->Sync());
  }
  // What reading `loc` with a fresh reader says; the payload in *payload when it reads.
  Status Read(const Location& loc, format::BlockHeader* h = nullptr, std::string* payload = nullptr) {
    d_.files.Forget(loc.segment);
    SegmentReader reader(&d_.files, 64 << 10);
    format::BlockHeader hh;
    std::string_view p;
    Status s = reader.ReadBlock(loc, &hh, &p);
    if (h != nullptr) *h = hh;
    if (payload != nullptr) payload->assign(p);
    return s;
  }
  static std::string Place(const Location& loc) {
    return "segment " + std::to_string(loc.segment) + " offset " + std::to_string(loc.offset) + ": ";
  }
  void ExpectCorruptionAt(const Location& loc, const std::string& says) {
    Status s = Read(loc);
    EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
    EXPECT_EQ(s.message().rfind(Place(loc), 0), 0u) << s.message();
    EXPECT_NE(s.message().find(says), std::string::npos) << s.message();
  }

  test::SegmentDir d_;
  std::vector<std::string> payloads_;
  std::vector<Location> locs_;
};

TEST_F(SegmentReaderTest, ReadsEveryBlockByItsLocationInAnyOrder) {
  // One reader for all, its window smaller than the largest block, jumping back and forth.
  SegmentReader reader(&d_.files, 64 << 10);
  for (size_t i : {size_t{3}, size_t{0}, size_t{4}, size_t{1}, size_t{2}, size_t{1}}) {
    format::BlockHeader h;
    std::string_view payload;
    ASSERT_OK(reader.ReadBlock(locs_[i], &h, &payload));
    EXPECT_EQ(h.type, format::BlockType::kData);
    EXPECT_EQ(h.stored_len, locs_[i].stored_len);
    EXPECT_TRUE(payload == payloads_[i]) << i;
  }
}

TEST_F(SegmentReaderTest, AHeaderWhoseSizeDiffersFromTheLocationIsCorruption) {
  Location longer = locs_[1];
  longer.stored_len += 1;
  ExpectCorruptionAt(longer, "block is 100000 bytes, the index says 100001");
  Location shorter = locs_[1];
  shorter.stored_len -= 4096;
  ExpectCorruptionAt(shorter, "the index says 95904");
}

TEST_F(SegmentReaderTest, ALocationThatIsNotABlockIsCorruption) {
  Location inside = locs_[1];
  inside.offset += 4096;  // inside the payload
  ExpectCorruptionAt(inside, "magic");
}

TEST_F(SegmentReaderTest, ABodyThatDoesNotMatchItsChecksumIsCorruption) {
  FlipByte(d_.files.Path(1), locs_[3].offset + format::kBlockHeaderSize + 1234567);
  ExpectCorruptionAt(locs_[3], "body_xxh3");
  // The blocks around it still read.
  ASSERT_OK(Read(locs_[2]));
  ASSERT_OK(Read(locs_[4]));
}

TEST_F(SegmentReaderTest, AFlippedHeaderByteIsCorruption) {
  FlipByte(d_.files.Path(1), locs_[0].offset + 20);  // in the id
  ExpectCorruptionAt(locs_[0], "header_xxh3");
}

TEST_F(SegmentReaderTest, ALocationPastTheEndOfTheFileIsCorruption) {
  const uint64_t size = std::filesystem::file_size(d_.files.Path(1));
  Location beyond = locs_[4];
  beyond.offset = size + 4096;
  ExpectCorruptionAt(beyond, "runs past the end of the file");
  // A block cut short, as a truncated segment leaves it.
  std::filesystem::resize_file(d_.files.Path(1), locs_[3].offset + 1000);
  ExpectCorruptionAt(locs_[3], "block of " + std::to_string(locs_[3].total_size()) +
                                   " bytes runs past the end of the file at " + std::to_string(locs_[3].offset + 1000));
}

TEST_F(SegmentReaderTest, AMissingSegmentIsCorruptionNotAnIOError) {
  Location elsewhere = locs_[0];
  elsewhere.segment = 9;
  Status s = Read(elsewhere);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find(SegmentFiles::Name(9) + " is missing"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace bv::engine
