// One pass over a segment's blocks: the header, every block, and every stop with its place.
#include "engine/segment_scan.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/test_util.h"

namespace bv::engine {
namespace {

struct Pass {
  std::vector<uint64_t> blocks;        // offsets
  std::vector<ScanStopInfo> stops;     // every stop reported to the caller
  ScanStopInfo last;
};

Pass Scan(SegmentScan* scan, uint64_t from, bool go_on) {
  Pass p;
  auto r = scan->Blocks(
      from, true,
      [&](const format::ScannedBlock& b) {
        p.blocks.push_back(b.offset);
        return Status::Ok();
      },
      [&](const ScanStopInfo& st) -> Result<bool> {
        p.stops.push_back(st);
        return go_on;
      });
  BV_ASSERT(r.ok());
  p.last = *r;
  return p;
}

class SegmentScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(tv_.Init());
    ASSERT_OK_AND_ASSIGN(auto v, tv_.Open());
    ASSERT_OK(test::PutString(v.get(), "src", test::RandomBytes(2 << 20, 3)).status());
    ASSERT_OK(v->Close());
    env_ = io::Env::Create(test::TestBackend());
    files_ = std::make_unique<SegmentFiles>(env_.get(), tv_.dir() + "/segments");
    ASSERT_OK_AND_ASSIGN(auto list, files_->List());
    ASSERT_EQ(list.size(), 1u);
    segment_ = list[0];
    ASSERT_OK_AND_ASSIGN(auto scan, SegmentScan::Open(files_.get(), segment_, false));
    clean_ = Scan(scan.get(), format::kSegmentHeaderSize, true);
    ASSERT_GE(clean_.blocks.size(), 4u);
  }
  void Write(uint64_t off, const std::string& bytes) {
    std::fstream f(files_->Path(segment_), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(off));
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  std::unique_ptr<SegmentScan> Reopen() {
    files_->Forget(segment_);
    auto scan = SegmentScan::Open(files_.get(), segment_, false);
    BV_ASSERT(scan.ok());
    return std::move(scan).value();
  }

  test::TestVolume tv_;
  std::unique_ptr<io::Env> env_;
  std::unique_ptr<SegmentFiles> files_;
  uint64_t segment_ = 0;
  Pass clean_;
};

TEST_F(SegmentScanTest, CleanSegmentEndsWithoutStops) {
  auto scan = Reopen();
  ASSERT_TRUE(scan->header().has_value());
  EXPECT_EQ(scan->header()->segment_number, segment_);
  EXPECT_TRUE(clean_.stops.empty());
  EXPECT_EQ(clean_.last.stop, format::ScanStop::kEnd);
  EXPECT_EQ(clean_.last.offset, scan->size());
}

TEST_F(SegmentScanTest, DamageInTheMiddleIsReportedWithItsHeaderAndCanBePassed) {
  const uint64_t bad = clean_.blocks[1];
  Write(bad + format::kBlockHeaderSize + 10, "\xff\xfe\xfd");  // the body, not the header
  Pass passed = Scan(Reopen().get(), format::kSegmentHeaderSize, true);
  ASSERT_EQ(passed.stops.size(), 1u);
  const ScanStopInfo& st = passed.stops[0];
  EXPECT_EQ(st.stop, format::ScanStop::kCorrupt);
  EXPECT_EQ(st.offset, bad);
  EXPECT_EQ(st.resume, clean_.blocks[2]);
  ASSERT_TRUE(st.header.has_value());  // the header reads: what the block held is known
  EXPECT_FALSE(st.problem.ok());
  EXPECT_EQ(passed.blocks.size(), clean_.blocks.size() - 1);
  EXPECT_EQ(passed.last.stop, format::ScanStop::kEnd);
  // A caller that does not go past it gets the stop back.
  Pass stopped = Scan(Reopen().get(), format::kSegmentHeaderSize, false);
  EXPECT_EQ(stopped.last.stop, format::ScanStop::kCorrupt);
  EXPECT_EQ(stopped.blocks.size(), 1u);
}

TEST_F(SegmentScanTest, DamagedHeaderStillYieldsTheBlocks) {
  Write(100, std::string(8, '\0'));
  auto scan = Reopen();
  EXPECT_FALSE(scan->header().has_value());
  EXPECT_FALSE(scan->header_problem().ok());
  EXPECT_EQ(Scan(scan.get(), format::kSegmentHeaderSize, true).blocks, clean_.blocks);
}

TEST_F(SegmentScanTest, TornTailIsTheLastStop) {
  auto size = Reopen()->size();
  Write(size, std::string(3000, '\x33'));
  Pass p = Scan(Reopen().get(), format::kSegmentHeaderSize, true);
  EXPECT_EQ(p.last.stop, format::ScanStop::kTorn);
  EXPECT_EQ(p.last.offset, size);
  EXPECT_FALSE(p.last.header.has_value());
  EXPECT_EQ(p.blocks, clean_.blocks);
}

TEST_F(SegmentScanTest, HeaderlessFileIsReadFromItsFirstByte) {
  const uint64_t from = clean_.blocks[2];
  std::string bytes;
  {
    std::ifstream f(files_->Path(segment_), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), {});
  }
  std::ofstream(tv_.tmp / "copy", std::ios::binary) << bytes.substr(from);
  ASSERT_OK_AND_ASSIGN(auto scan, SegmentScan::OpenHeaderless(env_.get(), tv_.tmp / "copy"));
  EXPECT_FALSE(scan->header().has_value());
  Pass p = Scan(scan.get(), 0, true);
  EXPECT_EQ(p.blocks.size(), clean_.blocks.size() - 2);
  EXPECT_EQ(p.last.stop, format::ScanStop::kEnd);
}

}  // namespace
}  // namespace bv::engine
