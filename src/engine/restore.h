// The read path: a stream of a snapshot (or a byte range of it) back out, in order, every block
// checked (header checksum, AEAD tag or, unencrypted, body checksum, chunk id and length against
// the recipe; RestoreOptions::body_check) and, for a whole stream, the stream hash.
//
// Without needless copies: the blocks of a batch are read straight into one buffer (registered
// with io_uring when one is free; the batch's reads submitted together), decoded on the workers
// into the buffer that is sent, and handed to the sink with a hold on both, so a socket sink can
// send them with zero-copy send. A chunk stored plain is sent from the read buffer itself.
//
// Two threads per restore: one of its own walks the recipe, looks blocks up and reads batches
// ahead, the caller's writes them out in order as the workers finish them, so an output that
// blocks (a full pipe, a slow client) stalls neither the reads nor the decoding. That is the
// engine's block pipeline (engine/block_pipeline.h) with segments as its source
// (engine/segment_block_source.h); a restore quarantines the chunks it found damaged.
#pragma once

#include <functional>
#include <optional>

#include "engine/block_codec.h"
#include "engine/recipe_walk.h"
#include "engine/stream_io.h"
#include "engine/thread_pool.h"
#include "engine/volume.h"

namespace bv::engine {

struct RestoreOptions {
  uint16_t stream = 0;
  std::optional<ByteRange> range;  // whole stream when absent
  size_t threads = 0;          // 0: one per core; ignored when `pool` is set
  ThreadPool* pool = nullptr;  // shared workers (a server's); null: the restore starts its own
  // Memory: about (batches_in_flight + 2) × (1 MiB read buffer + batch_output decoded bytes),
  // plus what the sink holds.
  size_t batch_output = 4 << 20;  // decoded bytes per batch, at most
  size_t batches_in_flight = 0;   // 0: 2 per worker + 1
  size_t read_window = 1 << 20;   // segment bytes read ahead at a time for recipe pieces
  std::function<void(uint64_t bytes_out)> progress;
  // kAlways for a verify: every encrypted block's body_xxh3 too, not only its tag.
  BodyCheck body_check = BodyCheck::kWhenTagFails;
};

// Safe to call from several threads at once on one volume: each restore reads through its own
// files and buffers; the index and the codec are shared and thread-safe.
Status Restore(Volume* volume, const SnapshotEntry& snapshot, const RestoreOptions& opts, OutputSink* out);

}  // namespace bv::engine
