// Buffers of one size, aligned for O_DIRECT, that go back for reuse when their holder is done
// (engine/recycler.h says why). A pipeline that took a fresh multi-megabyte buffer per batch
// paid the kernel to fault in and zero its pages every time. Thread-safe; keeps at most
// `keep_max` idle buffers and frees the rest.
#pragma once

#include <cstdlib>

#include "engine/recycler.h"
#include "io/buffer_pool.h"

namespace bv::engine {

class BufferRecycler {
 public:
  BufferRecycler(size_t size, size_t keep_max) : size_(size), idle_(keep_max) {}

  // size() bytes aligned for O_DIRECT, contents undefined; back with Give.
  uint8_t* Take() {
    if (Idle::Ptr p = idle_.Take()) return p.release();
    return io::AllocAligned(size_);
  }
  void Give(uint8_t* p) { idle_.Give(Idle::Ptr(p)); }
  size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  using Idle = Recycler<uint8_t, Free>;

  const size_t size_;
  Idle idle_;
};

}  // namespace bv::engine
