// Buffers of one size handed back for reuse.
#include "engine/buffer_recycler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

namespace bv::engine {
namespace {

TEST(BufferRecycler, BuffersAreAlignedForDirectIoAndOfTheRecyclersSize) {
  BufferRecycler r(1 << 20, 4);
  EXPECT_EQ(r.size(), size_t{1} << 20);
  uint8_t* p = r.Take();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % io::kAlign, 0u);
  std::memset(p, 0x5a, r.size());  // all of it is the holder's (ASan checks the bounds)
  r.Give(p);
}

TEST(BufferRecycler, AGivenBufferIsTakenAgainLastInFirstOut) {
  BufferRecycler r(64 << 10, 4);
  uint8_t* a = r.Take();
  uint8_t* b = r.Take();
  ASSERT_NE(a, b);
  r.Give(a);
  r.Give(b);
  EXPECT_EQ(r.Take(), b);
  EXPECT_EQ(r.Take(), a);
  r.Give(a);
  r.Give(b);
  r.Give(nullptr);  // nothing to keep
  EXPECT_EQ(r.Take(), b);
  r.Give(b);
}

TEST(BufferRecycler, KeepsNoMoreThanKeepMaxIdle) {
  BufferRecycler r(64 << 10, 1);
  uint8_t* a = r.Take();
  uint8_t* b = r.Take();
  r.Give(a);
  r.Give(b);  // one too many: freed
  EXPECT_EQ(r.Take(), a);
  r.Give(a);
}

// Threads taking and giving at once: no buffer is ever held by two of them.
TEST(BufferRecycler, NoBufferIsHeldTwiceAcrossThreads) {
  BufferRecycler r(8 << 10, 3);
  std::atomic<int> clashes{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; i++) {
        uint8_t* p = r.Take();
        std::memset(p, t + 1, r.size());
        std::this_thread::yield();
        if (p[0] != t + 1 || p[r.size() - 1] != t + 1) clashes++;
        r.Give(p);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(clashes.load(), 0);
}

}  // namespace
}  // namespace bv::engine
