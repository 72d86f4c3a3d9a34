// Buffers of one size that go back for reuse when their holder is done. A pipeline that took a
// fresh multi-megabyte buffer per batch paid the kernel to fault in and zero its pages every time
// (the allocator hands large blocks back to the system); reused buffers are already mapped.
// Thread-safe; keeps at most `keep_max` idle buffers and frees the rest.
#pragma once

#include <cstdlib>
#include <memory>
#include <mutex>
#include <vector>

#include "io/buffer_pool.h"

namespace bv::engine {

class BufferRecycler {
 public:
  BufferRecycler(size_t size, size_t keep_max) : size_(size), keep_max_(keep_max) {}
  ~BufferRecycler() {
    for (uint8_t* p : idle_) std::free(p);
  }
  BufferRecycler(const BufferRecycler&) = delete;
  BufferRecycler& operator=(const BufferRecycler&) = delete;

  // size() bytes aligned for O_DIRECT, contents undefined; back with Give.
  uint8_t* Take() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        uint8_t* p = idle_.back();
        idle_.pop_back();
        return p;
      }
    }
    return io::AllocAligned(size_);
  }
  void Give(uint8_t* p) {
    if (p == nullptr) return;
    {
      std::lock_guard lock(mu_);
      if (idle_.size() < keep_max_) {
        idle_.push_back(p);
        return;
      }
    }
    std::free(p);
  }
  size_t size() const { return size_; }

 private:
  const size_t size_;
  const size_t keep_max_;
  std::mutex mu_;
  std::vector<uint8_t*> idle_;
};

}  // namespace bv::engine
