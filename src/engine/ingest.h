// The ingest pipeline of one put: stream bytes in, blocks out. Chunking and the stream hash run in
// order on the calling thread; chunk ids, dedup lookups, compression and encryption run on every
// core; blocks are appended in stream order through the volume's append lane, with a recipe
// piece every kRecipeEntriesMax chunks and a sync point every 64 MiB. What the put is for (a
// session, its record, its commit) is engine/put_session.h.
#pragma once

#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

#include "engine/append_lane.h"
#include "engine/chunker.h"
#include "engine/put_options.h"
#include "engine/recycler.h"
#include "engine/stream_hash.h"
#include "engine/stream_io.h"
#include "engine/thread_pool.h"
#include "engine/volume.h"
#include "format/recipe_format.h"
#include "format/snapshot_format.h"

namespace bv::engine {

// The state of one put: its snapshot record so far, the open stream's chunker carry, hash and
// recipe, the batches in flight, and the chunks it appended that are not yet indexed.
class Ingest {
 public:
  // `rec` is the snapshot as far as it got: new, or a resumed session's streams and byte counts.
  // Appends go through the writer of `generation` only.
  Ingest(Volume* v, uint64_t generation, const PutOptions& opts, format::SnapshotRecord rec);
  ~Ingest();

  // Opens a stream at `at`: a new one (a name, the rest 0), or one resumed where its last sync
  // left it (length, chunk_count, recipe_pieces); the hash of its stored bytes then goes to hash().
  Status StartStream(const format::StreamInfo& at);
  Status Write(std::string_view bytes);
  Result<size_t> WriteFrom(InputStream* in);
  Status WriteMapped(io::MappedFile* m);
  Status EndStream();
  // Cuts the open stream where it stands (its last chunk ends here, not where the content would
  // have cut it), waits for every batch to be appended, emits its recipe piece, and reaches a
  // durable sync point with whatever `also` adds to the index batch.
  Status Sync(const std::function<void(IndexBatch*)>& also);
  // Runs `fn` holding the append lane with the writer this put started on; a failure sticks.
  Status UnderLane(const std::function<Status(AppendLane::Guard&)>& fn);
  // Waits for the batches in flight; everything after fails with `why`.
  void Stop(const Status& why);

  const Status& status() const { return failed_; }
  const format::SnapshotRecord& record() const { return rec_; }
  void Redate(int64_t time_us) { rec_.time_us = time_us; }
  uint64_t generation() const { return generation_; }
  bool in_stream() const { return in_stream_; }
  uint16_t streams_done() const { return static_cast<uint16_t>(rec_.streams.size()); }
  uint64_t offset() const;
  // The open stream as far as its recipe pieces go (no hash): what a sync point makes durable.
  format::StreamInfo open_stream() const;
  StreamHash* hash() { return hash_.get(); }
  ThreadPool* pool() { return pool_; }

 private:
  struct Batch;
  struct IdHash {
    size_t operator()(const format::Id& id) const {
      size_t h;
      std::memcpy(&h, id.data(), sizeof h);
      return h;
    }
  };

  void Work(Batch* b) const;
  Status Complete(Batch* b, uint16_t stream);
  Status EmitRecipe(AppendLane::Guard& lane, uint16_t stream);
  Status Flush(AppendLane::Guard& lane);
  // Chunks what is buffered (all of it when `final`, cutting the last chunk short) and sends it
  // down the pipeline; when `final`, waits for every batch to be appended.
  Status Process(bool final);
  // Waits for a slot of the shared budget, if there is one.
  void AcquireBudget();
  void DrainFront();
  // The batch being filled, made (or taken from the spares) if there is none.
  Batch* Filling();
  void Recycle(std::unique_ptr<Batch> b);
  // Batches this put keeps in flight: 2 per worker + 1, or less, its share of a shared budget.
  size_t InflightMax() const;

  Volume* v_;
  const uint64_t generation_;
  const PutOptions opts_;
  format::SnapshotRecord rec_;
  std::unique_ptr<ThreadPool> own_pool_;
  ThreadPool* pool_;
  Chunker chunker_;
  std::unordered_map<format::Id, Location, IdHash> pending_;  // appended by this put, not yet indexed
  uint64_t bytes_in_ = 0;
  Status failed_;  // sticky: the put cannot go on
  // The open stream.
  bool in_stream_ = false;
  std::string name_;
  std::unique_ptr<StreamHash> hash_;
  std::unique_ptr<Batch> cur_;  // being filled: read but not yet chunked
  io::MappedFile* mapped_ = nullptr;  // the open stream's bytes, when they are a mapped file
  // Batches done with, for Filling: each holds a buffer of batch_input bytes and more.
  Recycler<Batch> spares_;
  uint64_t length_ = 0;         // chunked and hashed
  format::RecipePiece piece_;
  uint64_t stream_offset_ = 0;  // covered by emitted recipe pieces
  uint64_t chunk_count_ = 0;
  uint32_t pieces_ = 0;
  std::deque<std::pair<std::unique_ptr<Batch>, std::future<void>>> window_;
};

}  // namespace bv::engine
