#include "io/mapped_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "tests/test_util.h"

namespace bv::io {
namespace {

class MappedFileTest : public ::testing::Test {
 protected:
  int Create(const std::string& name, const std::string& bytes) {
    const std::string path = tmp / name;
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    EXPECT_EQ(::lseek(fd, 0, SEEK_SET), 0);
    fds_.push_back(fd);
    return fd;
  }
  ~MappedFileTest() override {
    for (int fd : fds_) ::close(fd);
  }
  test::TempDir tmp;
  std::vector<int> fds_;
};

TEST_F(MappedFileTest, GivesTheFileAndReleasesWhatIsRead) {
  const std::string d = test::RandomBytes((3 << 20) + 17, 5);
  ASSERT_OK_AND_ASSIGN(auto m, MappedFile::Map(Create("f", d), "f"));
  ASSERT_TRUE(m);
  ASSERT_TRUE(m->bytes() == d);
  ASSERT_OK(m->Populate(0, d.size()));
  EXPECT_EQ(MappedFile::NameAt(m->bytes().data() + 5), std::string("f"));
  EXPECT_EQ(MappedFile::NameAt(d.data()), nullptr);
  m->Release(1 << 20);
  m->Release(d.size());
  ASSERT_OK(m->Populate(d.size() - 1, 1));  // released pages come back from the page cache
  EXPECT_TRUE(m->bytes() == d);
}

TEST_F(MappedFileTest, OnlyRegularNonEmptyFilesReadFromTheirStartAreMapped) {
  ASSERT_OK_AND_ASSIGN(auto empty, MappedFile::Map(Create("empty", ""), "empty"));
  EXPECT_FALSE(empty);
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  const int fd = Create("read-from-the-middle", "abc");
  ASSERT_EQ(::lseek(fd, 1, SEEK_SET), 1);
  ASSERT_OK_AND_ASSIGN(auto middle, MappedFile::Map(fd, "middle"));
  EXPECT_FALSE(middle);
  ASSERT_OK_AND_ASSIGN(auto pipe, MappedFile::Map(p[0], "pipe"));
  EXPECT_FALSE(pipe);
  ::close(p[0]);
  ::close(p[1]);
}

// Reading a mapped page beyond a file's new end raises SIGBUS; Populate says so first.
TEST_F(MappedFileTest, AFileThatShrankIsAnErrorNotASignal) {
  const std::string d = test::RandomBytes(1 << 20, 6);
  const int fd = Create("shrinks", d);
  ASSERT_OK_AND_ASSIGN(auto m, MappedFile::Map(fd, tmp / "shrinks"));
  ASSERT_OK(m->Populate(0, 4096));
  ASSERT_EQ(::ftruncate(fd, 8192), 0);
  ASSERT_OK(m->Populate(0, 8192));
  Status s = m->Populate(8192, 4096);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("shrank while it was being read: it was 1048576 bytes, now 8192"), std::string::npos)
      << s.ToString();
}

}  // namespace
}  // namespace bv::io
