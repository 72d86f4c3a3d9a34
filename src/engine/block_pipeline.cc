#include "engine/block_pipeline.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "engine/stream_hash.h"

namespace bv::engine {

namespace {

// Batches a sink may still hold once written (a socket's zero-copy sends): recycled buffers kept
// for them beyond the window.
constexpr size_t kSinkHeldMax = 4;

size_t WindowSize(const PipelineOptions& o) {
  return o.batches_in_flight != 0 ? o.batches_in_flight : 2 * o.pool->size() + 1;
}

}  // namespace

BlockPipeline::BlockPipeline(const PipelineOptions& opts) : opts_(opts), window_(WindowSize(opts)) {
  BV_ASSERT(opts_.codec != nullptr && opts_.pool != nullptr && opts_.batch_output > 0);
  const size_t keep = window_.max() + kSinkHeldMax;
  buffers_.registered = opts_.registered;
  buffers_.stored = std::make_shared<BufferRecycler>(opts_.stored_buffer, keep);
  // A batch's planned output stays within batch_output unless it has one chunk, which is at most
  // kBlockPayloadMax: Decode relies on it.
  buffers_.plain = std::make_shared<BufferRecycler>(std::max<size_t>(opts_.batch_output, format::kBlockPayloadMax), keep);
}

void BlockPipeline::Add(BlockBatch* b, const BlockItem& item) const {
  BV_ASSERT(TakesOutput(*b, item) && item.take > 0);
  BV_ASSERT(item.at + format::kBlockHeaderSize + item.stored_len <= b->used && b->used <= b->capacity());
  b->items.push_back(item);
  b->output += item.planned();
}

Status BlockPipeline::Submit(std::shared_ptr<BlockBatch> b, const std::function<Status(BlockBatch*)>& fill) {
  if (b->items.empty()) return Status::Ok();
  // The output failed and reports why; this only ends the source.
  if (!window_.WaitForRoom()) return Status::IOError("the restore's output stopped");
  if (fill) BV_RETURN_IF_ERROR(fill(b.get()));
  BlockBatch* raw = b.get();
  window_.Push(std::move(b), opts_.pool->Submit([this, raw] { Decode(raw); }));
  return Status::Ok();
}

// On a worker: every block checked, each chunk decoded into the plain buffer or, stored plain,
// left where it was read. The first failure ends the batch and, once written up to it, the restore.
void BlockPipeline::Decode(BlockBatch* b) const {
  size_t plain_at = 0;
  for (BlockItem& it : b->items) {
    Status s = DecodeItem(b, &it, &plain_at);
    if (!s.ok()) {
      source_->Damaged(it);
      b->status = Status::Corruption(source_->Place(it) + ": " + s.message());
      return;
    }
  }
}

Status BlockPipeline::DecodeItem(BlockBatch* b, BlockItem* it, size_t* plain_at) const {
  const std::string_view block(reinterpret_cast<const char*>(b->data()) + it->at,
                               format::kBlockHeaderSize + it->stored_len);
  BV_ASSIGN_OR_RETURN(format::BlockHeader h, format::DecodeBlockHeader(block.substr(0, format::kBlockHeaderSize)));
  BV_RETURN_IF_ERROR(CheckHeader(h, *it));
  uint8_t* dst = nullptr;
  if (!BlockCodec::StoredPlain(h)) {
    // The header's raw_len is at most the item's planned() bytes (CheckHeader, DecodeBlockHeader),
    // and Add keeps their sum within the buffer.
    BV_ASSERT(*plain_at + h.raw_len <= b->plain_capacity());
    dst = b->plain() + *plain_at;
    *plain_at += h.raw_len;
  }
  BV_ASSIGN_OR_RETURN(it->chunk, opts_.codec->DecodeChunk(h, block.substr(format::kBlockHeaderSize), dst, opts_.body_check));
  return Status::Ok();
}

// The header against what the source expects of the block.
Status BlockPipeline::CheckHeader(const format::BlockHeader& h, const BlockItem& it) const {
  if (h.stored_len != it.stored_len) {
    return Status::Corruption("block is " + std::to_string(h.stored_len) + " bytes, " + source_->SizeAuthority() +
                              " says " + std::to_string(it.stored_len));
  }
  if (it.id && (h.id != *it.id || h.raw_len != it.length)) {
    return Status::Corruption("holds a different chunk than the recipe names");
  }
  if (it.length_exact ? h.raw_len != it.length : h.raw_len < it.skip + it.take) {
    return Status::Corruption("holds a chunk of " + std::to_string(h.raw_len) + " bytes where the stream has " +
                              (it.length_exact ? "" : "at least ") +
                              std::to_string(it.length_exact ? it.length : it.skip + it.take));
  }
  return Status::Ok();
}

// Each batch in order, once decoded: its chunks into the stream hash (when one is given) and
// their output parts to the sink, which holds the batch as long as it needs. Stops at a batch's
// failed status or the sink's error.
Status BlockPipeline::WriteInOrder(StreamHash* hash, OutputSink* out, const std::function<void(uint64_t)>& progress) {
  std::vector<std::string_view> pieces;
  while (std::shared_ptr<BlockBatch> b = window_.Pop()) {
    BV_RETURN_IF_ERROR(b->status);
    pieces.clear();
    for (const BlockItem& it : b->items) {
      if (hash != nullptr) hash->Update(it.chunk);
      pieces.push_back(it.chunk.substr(it.skip, it.take));
      written_ += it.take;
    }
    BV_RETURN_IF_ERROR(out->WriteHeld(pieces, std::move(b)));
    if (progress) progress(written_);
  }
  return Status::Ok();
}

Status BlockPipeline::Run(BlockSource* source, OutputSink* out, const std::optional<StreamCheck>& check,
                          const std::function<void(uint64_t)>& progress) {
  BV_ASSERT(source_ == nullptr);  // once
  source_ = source;
  std::optional<StreamHash> hash;
  if (check) hash.emplace(check->hash_key);
  Status gathered;
  std::thread gatherer([this, &gathered] {
    gathered = source_->Gather(this);
    window_.Close();
  });
  Status s = WriteInOrder(hash ? &*hash : nullptr, out, progress);
  window_.Stop();
  gatherer.join();
  window_.Drain();  // no decode is left that names the source
  BV_RETURN_IF_ERROR(s);
  BV_RETURN_IF_ERROR(gathered);
  if (check && hash->Finish() != check->hash) {
    return Status::Corruption(check->place + ": the restored stream does not match its recorded hash");
  }
  return Status::Ok();
}

}  // namespace bv::engine
