// One block restore, whatever the blocks come from: a source gathers the stored blocks of a
// stream into batches (segments through the index, engine/segment_block_source.h; BLOCK frames
// from bvd, bvtool get --blocks), the workers check and decode each batch, and the caller's
// thread writes the chunks out in order and, for a whole stream, checks the stream hash.
//
// Without needless copies: a source puts the blocks' bytes straight into the batch's buffer, a
// chunk is decoded once into the batch's plain buffer (one stored plain is written from where it
// was read), and the sink gets the batch's bytes with a hold on the batch, so a socket sink can
// send them with zero-copy send.
//
// Two threads per restore besides the workers: one of its own runs the source, reading ahead of
// the output by the window, the caller's writes, so an output that blocks (a full pipe, a slow
// client) stalls neither the reads nor the decoding.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "engine/batch_window.h"
#include "engine/block_batch.h"
#include "engine/block_codec.h"
#include "engine/keys.h"
#include "engine/stream_hash.h"
#include "engine/stream_io.h"
#include "engine/thread_pool.h"

namespace bv::engine {

class BlockPipeline;

class BlockSource {
 public:
  virtual ~BlockSource() = default;
  // On a thread of its own: the stream's blocks, in order, in batches handed to
  // pipeline->Submit. An error ends the restore.
  virtual Status Gather(BlockPipeline* pipeline) = 0;
  // The start of an error message about the item's block: which block, and where.
  virtual std::string Place(const BlockItem& item) const = 0;
  // What gave the block's size, for the error when its header says otherwise ("the index").
  virtual std::string SizeAuthority() const = 0;
  // On a worker: the item's block failed its checks.
  virtual void Damaged(const BlockItem&) const {}
};

struct PipelineOptions {
  const BlockCodec* codec = nullptr;
  BodyCheck body_check = BodyCheck::kWhenTagFails;
  ThreadPool* pool = nullptr;
  size_t batches_in_flight = 0;    // 0: 2 per worker + 1
  size_t batch_output = 4 << 20;   // planned decoded bytes per batch, at most, unless one chunk is more
  size_t stored_buffer = io::kIoBufferSize;  // stored bytes per batch, unless one block is more
  io::Env* registered = nullptr;   // lends the ring's registered read buffers (stored_buffer must be theirs)
};

// The whole stream's recorded hash, checked at the end of the restore.
struct StreamCheck {
  Key hash_key;
  std::array<uint8_t, 16> hash;
  std::string place;  // the stream's end, for the error: StreamPlace(snapshot, stream, length)
};

class BlockPipeline {
 public:
  explicit BlockPipeline(const PipelineOptions& opts);
  BlockPipeline(const BlockPipeline&) = delete;
  BlockPipeline& operator=(const BlockPipeline&) = delete;

  // The source's side, on its thread.
  // A batch whose buffer holds at least a block of `block_size` bytes.
  std::shared_ptr<BlockBatch> NewBatch(size_t block_size) const { return std::make_shared<BlockBatch>(buffers_, block_size); }
  // Whether the batch has room for the item's decoded bytes; an empty batch takes any item.
  bool TakesOutput(const BlockBatch& b, const BlockItem& item) const {
    return b.items.empty() || b.output + item.planned() <= opts_.batch_output;
  }
  void Add(BlockBatch* b, const BlockItem& item) const;
  // Waits for room in the window, runs `fill` (the source's reads into the batch, if it has them
  // to do), then queues the batch's decode. Fails when the output stopped.
  Status Submit(std::shared_ptr<BlockBatch> b, const std::function<Status(BlockBatch*)>& fill = nullptr);

  // Runs the source on a thread of its own and writes the chunks' output parts to `out` on the
  // caller's, each batch in order once decoded; the sink's error stops the source. Once.
  Status Run(BlockSource* source, OutputSink* out, const std::optional<StreamCheck>& check,
             const std::function<void(uint64_t bytes_out)>& progress);

 private:
  void Decode(BlockBatch* b) const;
  Status DecodeItem(BlockBatch* b, BlockItem* it, size_t* plain_at) const;
  Status CheckHeader(const format::BlockHeader& h, const BlockItem& it) const;
  Status WriteInOrder(StreamHash* hash, OutputSink* out, const std::function<void(uint64_t)>& progress);

  const PipelineOptions opts_;
  BatchBuffers buffers_;
  BlockSource* source_ = nullptr;  // set by Run
  uint64_t written_ = 0;
  BatchWindow<BlockBatch> window_;  // read and decoding, in output order, between the two threads
};

}  // namespace bv::engine
