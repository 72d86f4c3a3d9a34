// The volume's segment files: names, listing, the shared cache of open files.
#include "engine/segment_files.h"

#include <gtest/gtest.h>

#include <fstream>

#include "io/fault_injection_env.h"
#include "tests/test_util.h"

namespace bv::engine {
namespace {

using Op = io::FaultInjectionEnv::Op;

void Touch(const std::string& path, const std::string& bytes = "x") { std::ofstream(path, std::ios::binary) << bytes; }

TEST(SegmentFiles, ListsOnlySegmentFilesInOrder) {
  test::TempDir tmp;
  SegmentFiles files(io::SystemEnv(), tmp.path());
  for (uint64_t n : {12, 3, 7}) Touch(files.Path(n));
  Touch(tmp / "seg-000000000001.bvs.tmp");
  Touch(tmp / "notes.txt");
  ASSERT_OK_AND_ASSIGN(auto list, files.List());
  EXPECT_EQ(list, (std::vector<uint64_t>{3, 7, 12}));
  EXPECT_EQ(SegmentFiles::Name(7), "segment seg-000000000007.bvs");
  EXPECT_EQ(files.LostAndFoundDir(), tmp.path().substr(0, tmp.path().rfind('/')) + "/lost+found");
}

TEST(SegmentFiles, KeepsFilesOpenUntilForgotten) {
  test::TempDir tmp;
  auto fault = std::make_shared<io::FaultInjectionEnv>(io::Env::Create(io::Backend::kSync));
  SegmentFiles files(fault.get(), tmp.path());
  Touch(files.Path(1), "abc");
  ASSERT_OK_AND_ASSIGN(auto first, files.Open(1));
  fault->FailOn(Op::kOpen, "seg-");
  ASSERT_OK_AND_ASSIGN(auto again, files.Open(1));  // from the cache: no open
  EXPECT_EQ(first.get(), again.get());
  EXPECT_FALSE(files.Open(1, SegmentAccess::kCached).ok());  // the other kind is a file of its own
  files.Forget(1);
  EXPECT_FALSE(files.Open(1).ok());
  // A file someone still holds stays usable after the cache let it go.
  char c = 0;
  ASSERT_OK_AND_ASSIGN(size_t got, first->ReadAt(1, &c, 1));
  EXPECT_EQ(got, 1u);
  EXPECT_EQ(c, 'b');
}

TEST(SegmentFiles, CacheIsBounded) {
  test::TempDir tmp;
  auto fault = std::make_shared<io::FaultInjectionEnv>(io::Env::Create(io::Backend::kSync));
  SegmentFiles files(fault.get(), tmp.path());
  const uint64_t n = SegmentFiles::kOpenFilesMax + 1;
  for (uint64_t i = 1; i <= n; i++) Touch(files.Path(i));
  for (uint64_t i = 1; i <= n; i++) ASSERT_TRUE(files.Open(i).ok());
  fault->FailOn(Op::kOpen, "seg-");
  EXPECT_FALSE(files.Open(1).ok());  // the least recently used went out
  EXPECT_TRUE(files.Open(n).ok());
  EXPECT_TRUE(files.Open(2).ok());
}

TEST(SegmentFiles, MissingSegmentIsNotFoundAndTotalCountsEveryFile) {
  test::TempDir tmp;
  SegmentFiles files(io::SystemEnv(), tmp.path());
  EXPECT_TRUE(files.Open(5).status().IsNotFound());
  Touch(files.Path(1), std::string(1000, 'a'));
  Touch(files.Path(2), std::string(24, 'b'));
  ASSERT_OK_AND_ASSIGN(uint64_t total, files.TotalBytes());
  EXPECT_EQ(total, 1024u);
}

}  // namespace
}  // namespace bv::engine
