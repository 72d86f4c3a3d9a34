// The aligned read-ahead window over a segment file.
#include "engine/segment_window.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/test_util.h"

namespace bv::engine {
namespace {

std::shared_ptr<io::File> FileOf(io::Env* env, const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
  auto f = env->Open(path, io::OpenMode::kRead);
  BV_ASSERT(f.ok());
  return std::move(f).value();
}

TEST(SegmentWindow, ViewsAnyRangeOfTheFile) {
  test::TempDir tmp;
  auto env = io::Env::Create(test::TestBackend());
  const std::string data = test::RandomBytes(3 * 4096 * 5 + 123, 5);  // ends off a page boundary
  SegmentWindow w(8192);  // two pages: most views below need a new read
  ASSERT_OK(w.Attach(FileOf(env.get(), tmp / "f", data)));
  EXPECT_EQ(w.Size(), data.size());
  for (auto [off, n] : {std::pair<uint64_t, size_t>{0, 10}, {4090, 20}, {8000, 300}, {100, 20000}, {60000, 5}}) {
    ASSERT_OK_AND_ASSIGN(std::string_view v, w.View(off, n));
    EXPECT_TRUE(v == std::string_view(data).substr(off, n)) << off << "+" << n;
  }
  // Past the end: what there is, then nothing.
  ASSERT_OK_AND_ASSIGN(std::string_view tail, w.View(data.size() - 3, 10));
  EXPECT_EQ(tail.size(), 3u);
  ASSERT_OK_AND_ASSIGN(std::string_view none, w.View(data.size() + 5000, 10));
  EXPECT_TRUE(none.empty());
}

TEST(SegmentWindow, ReadIsClippedAtTheSizeSeenWhenAttached) {
  test::TempDir tmp;
  auto env = io::Env::Create(test::TestBackend());
  const std::string data = test::RandomBytes(10000, 6);
  SegmentWindow w(4096);
  w.Attach(FileOf(env.get(), tmp / "f", data), 9000);  // as if the file were 9000 bytes
  std::string out;
  ASSERT_OK(w.Read(8990, 100, &out));
  EXPECT_EQ(out, data.substr(8990, 10));
  ASSERT_OK(w.Read(9000, 100, &out));
  EXPECT_TRUE(out.empty());
  ASSERT_OK(w.Read(0, 9000, &out));  // longer than half the window: read as it is
  EXPECT_EQ(out, data.substr(0, 9000));
}

}  // namespace
}  // namespace bv::engine
