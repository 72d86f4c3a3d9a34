// A batch of a block restore: stored blocks of one stream, in stream order, in one buffer, with
// what each block must hold, and the chunks decoded from them in a second buffer. Both buffers
// are reused: the first is one of the ring's registered read buffers when the source reads
// segments and one is free, else a recycled one; the second is recycled. The sink may hold a
// batch after it was written (a socket's zero-copy send) until the kernel has sent its bytes.
#pragma once

#include <cstdlib>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/buffer_recycler.h"
#include "format/block_format.h"
#include "format/index_format.h"
#include "io/env.h"

namespace bv::engine {

using Location = format::Location;

// One block of a batch and the chunk it holds, as its source expects them; the decode checks
// the block against every field the source could fill in.
struct BlockItem {
  size_t at = 0;                 // the block's first byte in BlockBatch::data()
  uint32_t stored_len = 0;       // its payload's bytes as the source knows them: the header must agree
  std::optional<format::Id> id;  // the chunk it must hold, when the source knows it
  uint32_t length = 0;           // the chunk's bytes, when `length_exact`
  // False for a chunk that runs past the end of a range, from a source that knows only the part
  // it outputs: the chunk has at least skip + take bytes.
  bool length_exact = true;
  uint64_t stream_offset = 0;   // of the chunk's first byte
  uint32_t skip = 0, take = 0;  // the part of the chunk that is output
  uint64_t number = 0;          // the block's place among the stream's blocks, from 0
  Location where;               // where the block lies, for a block read from a segment
  std::string_view chunk;       // set by the decode: in the batch's plain buffer or, stored plain, in data()

  // The decoded bytes the batch must have room for.
  uint32_t planned() const { return length_exact ? length : format::kBlockPayloadMax; }
};

// Where a batch's buffers come from.
struct BatchBuffers {
  io::Env* registered = nullptr;  // lends its registered read buffers when one is free; null: never
  std::shared_ptr<BufferRecycler> stored, plain;
};

class BlockBatch {
 public:
  // A block larger than a recycled buffer (a chunk of megabytes that did not compress) gets a
  // batch and a buffer of its own, of `block_size` bytes.
  BlockBatch(const BatchBuffers& buffers, size_t block_size) : buffers_(buffers) {
    if (block_size > buffers_.stored->size()) {
      data_ = io::AllocAligned(block_size);
      capacity_ = block_size;
      return;
    }
    capacity_ = buffers_.stored->size();
    if (buffers_.registered != nullptr) {
      BV_ASSERT(capacity_ == io::kIoBufferSize);  // the size of the ring's registered buffers
      registered_ = buffers_.registered->TryAcquireReadBuffer();
    }
    data_ = registered_.data != nullptr ? registered_.data : buffers_.stored->Take();
  }
  ~BlockBatch() {
    if (registered_.data != nullptr) {
      buffers_.registered->ReleaseReadBuffer(registered_);
    } else if (capacity_ > buffers_.stored->size()) {
      std::free(data_);
    } else {
      buffers_.stored->Give(data_);
    }
    buffers_.plain->Give(plain_);
  }
  BlockBatch(const BlockBatch&) = delete;
  BlockBatch& operator=(const BlockBatch&) = delete;

  uint8_t* data() const { return data_; }
  size_t capacity() const { return capacity_; }
  int buffer_index() const { return registered_.index; }  // the registered buffer's, or -1
  // The decoded chunks' buffer, taken when the first block that needs decoding asks for it;
  // every byte handed out of it is written.
  uint8_t* plain() {
    if (plain_ == nullptr) plain_ = buffers_.plain->Take();
    return plain_;
  }
  size_t plain_capacity() const { return buffers_.plain->size(); }

  std::vector<BlockItem> items;
  size_t used = 0;    // bytes of data() taken by blocks (and, read from segments, gaps between them)
  size_t output = 0;  // the items' planned() bytes
  Status status;      // the decode's: the first block that failed, and why

 private:
  BatchBuffers buffers_;
  io::Buffer registered_;
  uint8_t* data_ = nullptr;
  size_t capacity_ = 0;
  uint8_t* plain_ = nullptr;
};

}  // namespace bv::engine
