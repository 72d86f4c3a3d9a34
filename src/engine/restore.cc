#include "engine/restore.h"

#include <sodium.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "engine/batch_window.h"
#include "engine/buffer_recycler.h"
#include "engine/stream_hash.h"

namespace bv::engine {

namespace {

// Blocks this close after the last one in the same segment are read in the same request, gap
// and all: one larger read beats two small ones.
constexpr uint64_t kReadGapMax = 64 << 10;
// Batches a sink may still hold once written (a socket's zero-copy sends): recycled buffers kept
// for them beyond the window.
constexpr size_t kSinkHeldMax = 4;

std::string IdHex(const format::Id& id) {
  char hex[2 * format::kIdSize + 1];
  sodium_bin2hex(hex, sizeof hex, id.data(), id.size());
  return std::string(hex, 16);
}

uint64_t AlignDown(uint64_t x) { return x / io::kAlign * io::kAlign; }
uint64_t AlignUp(uint64_t x) { return (x + io::kAlign - 1) / io::kAlign * io::kAlign; }

// One chunk of a batch: where its block is, in the segment and in the batch's buffer.
struct Item {
  Location where;
  size_t at;  // the block's first byte in Batch::data
  format::Id id;
  uint32_t length;
  uint64_t stream_offset;
  uint32_t skip, take;  // the part of the chunk that is output
  std::string_view chunk;  // set by Decode: the chunk's bytes, in `plain` or in `data`
};

// One read request: consecutive blocks of one segment, aligned.
struct Extent {
  uint64_t segment;
  uint64_t start, end;  // aligned file offsets
  uint64_t needed_end;  // the end of the last block in it
  size_t at;            // in Batch::data
};

// A batch: its blocks' bytes in one buffer, decoded chunks in another, both recycled. Shared with
// the sink, which may hold it until the kernel has sent its bytes. A block larger than a read
// buffer (a chunk of over a megabyte that did not compress) gets a batch and a buffer of its own.
struct Batch {
  Batch(io::Env* e, std::shared_ptr<BufferRecycler> reads, std::shared_ptr<BufferRecycler> plains, size_t oversize)
      : env(e), read_buffers(std::move(reads)), plain_buffers(std::move(plains)) {
    if (oversize > io::kIoBufferSize) {
      data = io::AllocAligned(oversize);
      capacity = oversize;
      return;
    }
    registered = env->TryAcquireReadBuffer();
    data = registered.data != nullptr ? registered.data : read_buffers->Take();
  }
  ~Batch() {
    if (registered.data != nullptr) {
      env->ReleaseReadBuffer(registered);
    } else if (capacity > io::kIoBufferSize) {
      std::free(data);
    } else {
      read_buffers->Give(data);
    }
    plain_buffers->Give(plain);
  }
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;
  size_t used() const { return extents.empty() ? 0 : extents.back().at + (extents.back().end - extents.back().start); }

  io::Env* env;
  std::shared_ptr<BufferRecycler> read_buffers, plain_buffers;
  io::Buffer registered;
  uint8_t* data;
  size_t capacity = io::kIoBufferSize;
  std::vector<Extent> extents;
  std::vector<Item> items;
  size_t output_bytes = 0;
  uint8_t* plain = nullptr;  // taken by Decode when a block needs decoding; every byte handed out is written
  Status status;
};

class Restorer {
 public:
  Restorer(Volume* v, const SnapshotEntry& snap, const RestoreOptions& opts, OutputSink* out)
      : v_(v), snap_(snap), opts_(opts), out_(out),
        own_pool_(opts.pool ? nullptr : new ThreadPool(opts.threads ? opts.threads : ThreadPool::DefaultThreads())),
        pool_(opts.pool ? opts.pool : own_pool_.get()),
        hash_(v->keys().hash_key),
        reader_(v->segment_files(), opts.read_window),
        window_(opts.batches_in_flight ? opts.batches_in_flight : 2 * pool_->size() + 1),
        read_buffers_(std::make_shared<BufferRecycler>(io::kIoBufferSize, window_.max() + kSinkHeldMax)),
        plain_buffers_(std::make_shared<BufferRecycler>(std::max<size_t>(opts.batch_output, format::kBlockPayloadMax),
                                                        window_.max() + kSinkHeldMax)) {}

  Status Run();
  // Chunks whose blocks were found damaged, and where.
  std::vector<std::pair<format::Id, Location>> damaged() {
    std::lock_guard lock(damaged_mu_);
    return damaged_;
  }

 private:
  void NoteDamaged(const format::Id& id, const Location& where) const {
    std::lock_guard lock(damaged_mu_);
    damaged_.emplace_back(id, where);
  }

  Status AddChunk(const ChunkRef& c);
  Status Read(Batch* b);
  void Decode(Batch* b) const;
  Status Submit();

  Volume* v_;
  const SnapshotEntry& snap_;
  const RestoreOptions& opts_;
  OutputSink* out_;
  std::unique_ptr<ThreadPool> own_pool_;
  ThreadPool* pool_;
  StreamHash hash_;
  // Its own reader (recipe pieces, open files), so restores can run side by side.
  SegmentReader reader_;
  BatchWindow<Batch> window_;  // read and decoding, in output order, between the two threads
  std::shared_ptr<BufferRecycler> read_buffers_, plain_buffers_;
  std::shared_ptr<Batch> current_;  // being filled by the walker
  uint64_t written_ = 0;
  mutable std::mutex damaged_mu_;
  mutable std::vector<std::pair<format::Id, Location>> damaged_;
};

// Places the chunk's block in the current batch: inside or just after the batch's last extent
// when it can, else in an extent of its own; a full batch is submitted first.
Status Restorer::AddChunk(const ChunkRef& c) {
  BV_ASSERT(c.take > 0 && c.skip + c.take <= c.entry.length);  // the recipe walk hands out parts of chunks
  BV_ASSIGN_OR_RETURN(auto loc, v_->index()->GetChunk(c.entry.chunk_id));
  if (!loc) {
    BV_ASSIGN_OR_RETURN(auto damaged, v_->index()->GetQuarantined(c.entry.chunk_id));
    if (damaged) {
      return Status::Corruption(StreamPlace(snap_, opts_.stream, c.stream_offset) + ": chunk " +
                                IdHex(c.entry.chunk_id) + " is damaged (segment " + std::to_string(damaged->segment) +
                                " offset " + std::to_string(damaged->offset) +
                                ") and quarantined until a backup that holds it stores it again");
    }
    return Status::Corruption(StreamPlace(snap_, opts_.stream, c.stream_offset) + ": chunk " +
                              IdHex(c.entry.chunk_id) + " is not in the index");
  }
  if (loc->total_size() > format::kBlockHeaderSize + format::kBlockPayloadMax) {
    return Status::Corruption(StreamPlace(snap_, opts_.stream, c.stream_offset) + ": segment " +
                              std::to_string(loc->segment) + " offset " + std::to_string(loc->offset) +
                              ": the index gives a block of " + std::to_string(loc->total_size()) + " bytes");
  }
  const uint64_t start = AlignDown(loc->offset), end = AlignUp(loc->offset + loc->total_size());
  for (int attempt = 0; attempt < 2; attempt++) {
    if (!current_) current_ = std::make_shared<Batch>(v_->env(), read_buffers_, plain_buffers_, end - start);
    Batch* b = current_.get();
    const bool plain_fits = b->output_bytes + c.entry.length <= opts_.batch_output || b->items.empty();
    Extent* last = b->extents.empty() ? nullptr : &b->extents.back();
    if (plain_fits && last != nullptr && last->segment == loc->segment && start >= last->start &&
        start <= last->end + kReadGapMax && last->at + (std::max(end, last->end) - last->start) <= b->capacity) {
      last->end = std::max(last->end, end);
      last->needed_end = std::max(last->needed_end, loc->offset + loc->total_size());
    } else if (plain_fits && b->used() + (end - start) <= b->capacity) {
      b->extents.push_back(Extent{loc->segment, start, end, loc->offset + loc->total_size(), b->used()});
      last = &b->extents.back();
    } else {
      BV_RETURN_IF_ERROR(Submit());
      continue;  // into a new batch, where it fits
    }
    b->items.push_back(Item{*loc, last->at + (loc->offset - last->start), c.entry.chunk_id, c.entry.length,
                            c.stream_offset, c.skip, c.take, {}});
    b->output_bytes += c.entry.length;
    return Status::Ok();
  }
  BV_ASSERT(false);  // a new batch takes any block: its buffer is made to fit
  return Status::Ok();
}

// The batch's reads, submitted together.
Status Restorer::Read(Batch* b) {
  std::vector<io::ReadRequest> reqs;
  std::vector<std::shared_ptr<io::File>> files;  // open until the reads are done
  for (const Extent& e : b->extents) {
    BV_ASSIGN_OR_RETURN(std::shared_ptr<io::File> f, reader_.File(e.segment));
    reqs.push_back(io::ReadRequest{f.get(), e.start, b->data + e.at, e.end - e.start, b->registered.index});
    files.push_back(std::move(f));
  }
  (void)v_->env()->ReadBatch(reqs);
  for (size_t i = 0; i < reqs.size(); i++) {
    const Extent& e = b->extents[i];
    if (!reqs[i].status.ok()) return Status::IOError(reqs[i].status.message());
    if (e.start + reqs[i].got < e.needed_end) {
      for (const Item& it : b->items) {
        if (it.where.segment == e.segment && it.where.offset + it.where.total_size() > e.start + reqs[i].got) {
          NoteDamaged(it.id, it.where);
        }
      }
      return Status::Corruption("segment " + std::to_string(e.segment) + ": blocks up to offset " +
                                std::to_string(e.needed_end) + " run past the end of the file at " +
                                std::to_string(e.start + reqs[i].got));
    }
  }
  return Status::Ok();
}

// On a worker: every block checked, each chunk decoded into `plain` or, stored plain, left where
// it was read.
void Restorer::Decode(Batch* b) const {
  size_t at = 0;  // in b->plain
  for (Item& it : b->items) {
    auto fail = [&](const std::string& what) {
      NoteDamaged(it.id, it.where);
      b->status = Status::Corruption(StreamPlace(snap_, opts_.stream, it.stream_offset) + ": segment " +
                                     std::to_string(it.where.segment) + " offset " +
                                     std::to_string(it.where.offset) + ": " + what);
    };
    std::string_view block(reinterpret_cast<const char*>(b->data) + it.at, it.where.total_size());
    auto h = format::DecodeBlockHeader(block.substr(0, format::kBlockHeaderSize));
    if (!h.ok()) return fail(h.status().message());
    if (h->stored_len != it.where.stored_len) {
      return fail("block is " + std::to_string(h->stored_len) + " bytes, the index says " +
                  std::to_string(it.where.stored_len));
    }
    if (h->id != it.id || h->raw_len != it.length) return fail("holds a different chunk than the recipe names");
    if (!BlockCodec::StoredPlain(*h)) {
      if (b->plain == nullptr) b->plain = b->plain_buffers->Take();
      BV_ASSERT(at + it.length <= b->plain_buffers->size());  // AddChunk keeps batches within it
    }
    auto chunk = v_->codec().DecodeChunk(*h, block.substr(format::kBlockHeaderSize), b->plain + at, opts_.body_check);
    if (!chunk.ok()) return fail(chunk.status().message());
    it.chunk = *chunk;
    if (!BlockCodec::StoredPlain(*h)) at += it.length;
  }
}

// On the walking thread: waits for room in the window, reads the batch and queues its decode.
Status Restorer::Submit() {
  if (!current_ || current_->items.empty()) return Status::Ok();
  // The output failed and reports why; this only ends the walk.
  if (!window_.WaitForRoom()) return Status::IOError("the restore's output stopped");
  std::shared_ptr<Batch> b = std::move(current_);
  BV_RETURN_IF_ERROR(Read(b.get()));
  Batch* raw = b.get();
  window_.Push(std::move(b), pool_->Submit([this, raw] { Decode(raw); }));
  return Status::Ok();
}

// Two threads: one walks the recipe, looks blocks up and reads them (the workers decode), and
// the caller's writes the output.
Status Restorer::Run() {
  Status walked;
  std::thread walker([this, &walked] {
    walked = WalkRecipe(v_, &reader_, snap_, opts_.stream, opts_.range, [this](const ChunkRef& c) { return AddChunk(c); });
    if (walked.ok()) walked = Submit();
    window_.Close();
  });
  Status s = WriteInOrder(&window_, opts_.range ? nullptr : &hash_, out_, &written_, opts_.progress);
  window_.Stop();
  walker.join();
  BV_RETURN_IF_ERROR(s);
  BV_RETURN_IF_ERROR(walked);
  if (!opts_.range) {
    const format::StreamInfo& info = snap_.record.streams[opts_.stream];
    if (hash_.Finish() != info.hash) {
      return Status::Corruption(StreamPlace(snap_, opts_.stream, info.length) +
                                ": the restored stream does not match its recorded hash");
    }
  }
  return Status::Ok();
}

}  // namespace

Status Restore(Volume* volume, const SnapshotEntry& snapshot, const RestoreOptions& opts, OutputSink* out) {
  if (!volume->has_keys()) return Status::InvalidArgument("restoring needs the volume key");
  Restorer r(volume, snapshot, opts, out);
  Status s = r.Run();
  if (s.ok()) return s;
  // A damaged chunk is never deduplicated against again [DMG-1].
  std::string quarantined;
  for (const auto& [id, where] : r.damaged()) {
    auto done = volume->Quarantine(id, where);
    if (done.ok() && *done) quarantined += (quarantined.empty() ? "" : ", ") + IdHex(id);
  }
  if (!quarantined.empty() && s.IsCorruption()) {
    return Status::Corruption(s.message() + " (chunk " + quarantined +
                              " quarantined: the next backup that holds it stores it again)");
  }
  return s;
}

}  // namespace bv::engine
