// The read path: a stream of a snapshot (or a byte range of it) back out, in order, every block
// checked (body checksum, AEAD tag, chunk id, length) and, for a whole stream, the stream hash.
// Blocks are read in order on the calling thread and decoded on every core.
#pragma once

#include <functional>
#include <optional>

#include "engine/stream_io.h"
#include "engine/thread_pool.h"
#include "engine/volume.h"

namespace bv::engine {

struct ByteRange {
  uint64_t begin = 0;
  uint64_t end = 0;  // exclusive
};

struct RestoreOptions {
  uint16_t stream = 0;
  std::optional<ByteRange> range;  // whole stream when absent
  size_t threads = 0;          // 0: one per core; ignored when `pool` is set
  ThreadPool* pool = nullptr;  // shared workers (a server's); null: the restore starts its own
  // Memory: about batches_in_flight × 2 × batch_output (stored and decoded bytes of each batch).
  size_t batch_output = 4 << 20;  // decoded bytes per batch
  size_t batches_in_flight = 0;   // 0: 2 per worker + 1
  size_t read_window = 4 << 20;   // segment bytes read ahead at a time
  std::function<void(uint64_t bytes_out)> progress;
};

// Safe to call from several threads at once on one volume: each restore reads through its own
// segment reader; the index and the codec are shared and thread-safe.
Status Restore(Volume* volume, const SnapshotEntry& snapshot, const RestoreOptions& opts, OutputSink* out);

}  // namespace bv::engine
