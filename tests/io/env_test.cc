// Runs against the backend BV_IO names; meson runs this binary once per backend.
#include "io/env.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "tests/test_util.h"

namespace bv::io {
namespace {

TEST(Env, BackendIsTheOneAskedFor) {
  auto env = Env::Create(test::TestBackend());
  // io_uring may be refused by the kernel or a sandbox; then the sync backend stands in.
  if (test::TestBackend() == Backend::kUring && env->backend() != Backend::kUring) {
    GTEST_SKIP() << "io_uring is not available here";
  }
  EXPECT_EQ(env->backend(), test::TestBackend());
}

TEST(Env, QueuedWritesAreReadableAfterSync) {
  test::TempDir tmp;
  auto env = Env::Create(test::TestBackend());
  auto f = env->Open(tmp / "f", OpenMode::kCreate);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  // More buffers than the pool holds, so acquisition has to wait for completions.
  const size_t writes = kIoBufferCount * 3;
  for (size_t i = 0; i < writes; i++) {
    auto b = env->AcquireBuffer();
    ASSERT_TRUE(b.ok());
    std::memset(b->data, static_cast<int>('a' + i % 26), kIoBufferSize);
    ASSERT_OK((*f)->SubmitWrite(i * kIoBufferSize, *b, kIoBufferSize));
  }
  ASSERT_OK((*f)->DataSync());
  auto size = (*f)->Size();
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, writes * kIoBufferSize);
  // Unaligned reads work on O_DIRECT files too.
  char buf[10];
  auto got = (*f)->ReadAt(kIoBufferSize * 5 - 3, buf, sizeof buf);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(*got, sizeof buf);
  EXPECT_EQ(std::string(buf, 3), std::string(3, 'e'));
  EXPECT_EQ(std::string(buf + 3, 7), std::string(7, 'f'));
  // Reading past the end returns what is there.
  got = (*f)->ReadAt(writes * kIoBufferSize - 4, buf, sizeof buf);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, 4u);
  ASSERT_OK((*f)->Truncate(4096));
  auto truncated = (*f)->Size();
  ASSERT_TRUE(truncated.ok());
  EXPECT_EQ(*truncated, 4096u);
}

// A batch of reads: registered and plain buffers, several files, the end of a file.
TEST(Env, ReadBatchReadsEveryRequest) {
  test::TempDir tmp;
  auto env = Env::Create(test::TestBackend());
  std::vector<std::unique_ptr<File>> files;
  for (int i = 0; i < 2; i++) {
    auto f = env->Open(tmp / ("f" + std::to_string(i)), OpenMode::kCreate);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    for (size_t block = 0; block < 3; block++) {
      auto b = env->AcquireBuffer();
      ASSERT_TRUE(b.ok());
      for (size_t j = 0; j < kIoBufferSize; j++) b->data[j] = static_cast<uint8_t>(i * 100 + block * 7 + j % 251);
      ASSERT_OK((*f)->SubmitWrite(block * kIoBufferSize, *b, kIoBufferSize));
    }
    ASSERT_OK((*f)->DataSync());
    files.push_back(std::move(f).value());
  }
  Buffer registered = env->TryAcquireReadBuffer();
  if (env->backend() == Backend::kUring) {
    EXPECT_NE(registered.data, nullptr) << "io_uring keeps registered read buffers";
  } else {
    EXPECT_EQ(registered.data, nullptr);
  }
  uint8_t* plain = AllocAligned(kIoBufferSize);
  uint8_t* first = registered.data != nullptr ? registered.data : plain;
  std::vector<ReadRequest> reqs = {
      {files[0].get(), kAlign * 3, first, kAlign * 4, registered.index},
      {files[1].get(), kIoBufferSize + kAlign, first + kAlign * 4, kAlign * 2, registered.index},
      {files[0].get(), 3 * kIoBufferSize - kAlign, plain + kAlign * 8, kAlign * 4, -1},  // past the end
  };
  ASSERT_OK(env->ReadBatch(reqs));
  EXPECT_EQ(reqs[0].got, kAlign * 4);
  EXPECT_EQ(reqs[1].got, kAlign * 2);
  EXPECT_EQ(reqs[2].got, kAlign) << "a read past the end returns what is there";
  for (size_t j = 0; j < kAlign * 4; j += 997) {
    EXPECT_EQ(first[j], static_cast<uint8_t>((kAlign * 3 + j) % 251));
  }
  for (size_t j = 0; j < kAlign * 2; j += 997) {
    EXPECT_EQ(first[kAlign * 4 + j], static_cast<uint8_t>(100 + 7 + (kAlign + j) % 251));
  }
  EXPECT_EQ(plain[kAlign * 8], static_cast<uint8_t>(14 + (kIoBufferSize - kAlign) % 251));
  std::free(plain);
  if (registered.data != nullptr) env->ReleaseReadBuffer(registered);
}

TEST(Env, CreateRefusesAnExistingFile) {
  test::TempDir tmp;
  auto env = Env::Create(test::TestBackend());
  ASSERT_TRUE(env->Open(tmp / "f", OpenMode::kCreate).ok());
  auto again = env->Open(tmp / "f", OpenMode::kCreate);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("exists"), std::string::npos) << again.status().message();
}

TEST(Env, WriteFileAtomicReplacesWhole) {
  test::TempDir tmp;
  ASSERT_OK(WriteFileAtomic(tmp / "side", "first"));
  ASSERT_OK(WriteFileAtomic(tmp / "side", "second"));
  auto s = ReadSmallFile(tmp / "side", 100);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "second");
  EXPECT_FALSE(PathExists(tmp / "side.tmp"));
  EXPECT_TRUE(ReadSmallFile(tmp / "missing", 100).status().IsNotFound());
}

}  // namespace
}  // namespace bv::io
