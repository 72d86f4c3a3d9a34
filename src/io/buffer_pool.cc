#include "io/buffer_pool.h"

#include <cstdlib>
#include <cstring>

#include "base/status.h"

namespace bv::io {

uint8_t* AllocAligned(size_t n) {
  void* p = nullptr;
  BV_ASSERT(posix_memalign(&p, kAlign, (n + kAlign - 1) / kAlign * kAlign) == 0);
  return static_cast<uint8_t*>(p);
}

BufferPool::BufferPool(size_t count, size_t size) {
  region_ = AllocAligned(count * size);
  std::memset(region_, 0, count * size);
  for (size_t i = 0; i < count; i++) {
    buffers_.push_back(Buffer{region_ + i * size, size, static_cast<int>(i)});
    free_.push_back(static_cast<int>(count - 1 - i));
  }
}

BufferPool::~BufferPool() { std::free(region_); }

Buffer BufferPool::TryAcquire() {
  std::lock_guard lock(mu_);
  if (free_.empty()) return Buffer{};
  int i = free_.back();
  free_.pop_back();
  return buffers_[i];
}

void BufferPool::Release(Buffer b) {
  BV_ASSERT(b.index >= 0 && static_cast<size_t>(b.index) < buffers_.size());
  std::lock_guard lock(mu_);
  free_.push_back(b.index);
  BV_ASSERT(free_.size() <= buffers_.size());
}

}  // namespace bv::io
