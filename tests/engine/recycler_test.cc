// Recycler and BufferRecycler: what is given back is what a later Take returns, up to keep_max.
#include "engine/recycler.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "engine/buffer_recycler.h"

namespace bv::engine {
namespace {

TEST(Recycler, TakeIsNullUntilSomethingIsGivenBack) {
  Recycler<std::string> r(2);
  EXPECT_EQ(r.Take(), nullptr);
  auto s = std::make_unique<std::string>(1 << 20, 'x');
  const std::string* given = s.get();
  r.Give(std::move(s));
  auto back = r.Take();
  EXPECT_EQ(back.get(), given);  // the same object, its memory still held
  EXPECT_EQ(back->size(), size_t{1} << 20);
  EXPECT_EQ(r.Take(), nullptr);
}

TEST(Recycler, KeepsAtMostKeepMaxIdle) {
  Recycler<int> r(2);
  for (int i = 0; i < 5; i++) r.Give(std::make_unique<int>(i));
  r.Give(nullptr);  // ignored
  int kept = 0;
  while (r.Take() != nullptr) kept++;
  EXPECT_EQ(kept, 2);
}

TEST(BufferRecycler, ReusesAlignedBuffers) {
  BufferRecycler r(1 << 16, 1);
  uint8_t* a = r.Take();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 4096, 0u);
  uint8_t* b = r.Take();
  EXPECT_NE(a, b);
  r.Give(a);
  r.Give(b);  // one idle already: freed
  EXPECT_EQ(r.Take(), a);
  r.Give(a);
  r.Give(nullptr);
}

}  // namespace
}  // namespace bv::engine
