// Aligned I/O buffers of one size. With io_uring the whole pool is registered with the ring, and a
// buffer's index names it in WRITE_FIXED / READ_FIXED.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace bv::io {

inline constexpr size_t kAlign = 4096;
inline constexpr size_t kIoBufferSize = 1 << 20;
// Write buffers per volume. A segment writer fills one at a time and submits it, so the rest are
// writes in flight: 7 MiB queued is several milliseconds of the disk's time. Registering the pool
// faults in and pins every buffer, which costs a process (or bvd's first push to a tenant) about
// 2 ms per MiB in a VM here: 16 buffers measured no faster than 8 (docs/performance.md).
inline constexpr size_t kIoBufferCount = 8;

struct Buffer {
  uint8_t* data = nullptr;
  size_t size = 0;
  int index = -1;  // in the pool (and the ring's registered table)
};

class BufferPool {
 public:
  BufferPool(size_t count, size_t size);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A free buffer, or one with data == nullptr if none is free.
  Buffer TryAcquire();
  void Release(Buffer b);
  size_t count() const { return buffers_.size(); }
  const Buffer& at(size_t i) const { return buffers_[i]; }

 private:
  std::mutex mu_;
  uint8_t* region_ = nullptr;  // mmap'd, zero-filled by the kernel
  size_t region_size_ = 0;
  std::vector<Buffer> buffers_;
  std::vector<int> free_;
};

// Memory aligned for O_DIRECT, freed with free().
uint8_t* AllocAligned(size_t n);

}  // namespace bv::io
