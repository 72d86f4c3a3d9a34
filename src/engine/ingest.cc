#include "engine/ingest.h"

#include <sodium.h>

#include <algorithm>
#include <deque>
#include <future>
#include <memory>
#include <unordered_map>

#include "base/time_format.h"
#include "engine/chunk_id.h"
#include "engine/chunker.h"
#include "engine/stream_hash.h"
#include "engine/restore.h"
#include "engine/thread_pool.h"
#include "format/recipe_format.h"

namespace bv::engine {

namespace {

constexpr uint64_t kFlushBytes = 64ull << 20;     // appended bytes between intermediate syncs
constexpr size_t kPendingChunksMax = 1 << 16;     // chunk entries held before a sync

struct IdHash {
  size_t operator()(const format::Id& id) const {
    size_t h;
    std::memcpy(&h, id.data(), sizeof h);
    return h;
  }
};

struct Chunk {
  size_t offset, length;
  format::Id id;
  std::optional<Location> known;  // the index already has it
  size_t block_offset = 0, block_length = 0;  // in Batch::encoded
};

// Input bytes (the first `len` of a buffer of `cap`, or of a mapped file at `ext`), their chunks
// once cut, and the blocks the workers encode. Reused batch after batch, so their memory is
// faulted in once.
struct Batch {
  explicit Batch(size_t capacity) : cap(capacity) {}
  const char* base() const { return ext != nullptr ? ext : data.get(); }
  std::string_view bytes() const { return {base(), len}; }
  size_t room() const { return cap - len; }
  // The batch's own buffer, allocated on first use (a batch over a mapped file never needs one).
  char* own() {
    BV_ASSERT(ext == nullptr);
    if (!data) data = std::make_unique_for_overwrite<char[]>(cap);
    return data.get();
  }

  std::unique_ptr<char[]> data;
  const char* ext = nullptr;  // the bytes lie in a mapped file, not in data
  size_t cap;
  size_t len = 0;
  std::vector<Chunk> chunks;
  std::string encoded;
  // The chunks' bytes and ids side by side, for ChunkIds; kept to reuse their memory.
  std::vector<std::string_view> plain;
  std::vector<format::Id> ids;
};

// Hashes restored bytes: a resumed stream's hash is rebuilt from what is stored.
class HashSink final : public OutputSink {
 public:
  explicit HashSink(StreamHash* h) : h_(h) {}
  Status Write(std::string_view b) override {
    h_->Update(b);
    return Status::Ok();
  }

 private:
  StreamHash* h_;
};

}  // namespace

// The state of one put: its snapshot record so far, the open stream's chunker carry, hash and
// recipe, the batches in flight, and the index entries not yet written.
class Ingest {
 public:
  Ingest(Volume* v, uint64_t generation, const PutOptions& opts, format::SnapshotRecord rec)
      : v_(v), generation_(generation), opts_(opts), rec_(std::move(rec)),
        own_pool_(opts.pool ? nullptr : new ThreadPool(opts.threads ? opts.threads : ThreadPool::DefaultThreads())),
        pool_(opts.pool ? opts.pool : own_pool_.get()),
        chunker_(ChunkSizes{v->params().chunk_min, v->params().chunk_avg, v->params().chunk_max},
                 v->keys().gear_seed) {
    if (opts_.budget) opts_.budget->sharers.fetch_add(1);
  }
  ~Ingest() {
    while (!window_.empty()) DrainFront();  // never leave a worker holding a freed batch
    if (opts_.budget) opts_.budget->sharers.fetch_sub(1);
  }

  Status StartStream(const std::string& name, uint64_t offset, uint64_t chunk_count, uint32_t pieces);
  Status Write(std::string_view bytes);
  Status EndStream();
  Status Sync();
  Result<format::SnapshotRecord> Commit();
  Status Abort();
  Status Resume(const format::SessionRecord& s);

  uint64_t id() const { return rec_.id; }
  uint64_t generation() const { return generation_; }
  bool in_stream() const { return in_stream_; }
  uint16_t streams_done() const { return static_cast<uint16_t>(rec_.streams.size()); }
  uint64_t offset() const { return length_ + (cur_ ? cur_->len : 0); }
  Result<size_t> WriteFrom(InputStream* in);
  Status WriteMapped(io::MappedFile* m);

 private:
  void Work(Batch* b) const;
  Status Complete(Batch* b, uint16_t stream);
  Status EmitRecipe(AppendLane::Guard& lane, uint16_t stream);
  Status Flush(AppendLane::Guard& lane);
  // Chunks what is buffered (all of it when `final`, cutting the last chunk short) and sends it
  // down the pipeline; when `final`, waits for every batch to be appended.
  Status Process(bool final);
  void DrainFront();
  // The batch being filled, made (or taken from the spares) if there is none.
  Batch* Filling();
  void Recycle(std::unique_ptr<Batch> b);
  // Batches this put keeps in flight: 2 per worker + 1, or less, its share of a shared budget.
  size_t InflightMax() const {
    size_t max = 2 * pool_->size() + 1;
    if (opts_.budget) {
      const size_t sharers = static_cast<size_t>(std::max(1, opts_.budget->sharers.load()));
      max = std::min(max, std::max<size_t>(1, static_cast<size_t>(opts_.budget->size) / sharers));
    }
    return max;
  }
  format::SessionRecord Record() const;
  // Runs `fn` holding the volume's append lane, with the writer this put started on.
  Status UnderWriteLock(const std::function<Status(AppendLane::Guard&)>& fn) {
    BV_ASSIGN_OR_RETURN(AppendLane::Guard lane, v_->lane()->Lock(generation_));
    return fn(lane);
  }

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
  std::vector<std::unique_ptr<Batch>> spares_;
  uint64_t length_ = 0;         // chunked and hashed
  format::RecipePiece piece_;
  uint64_t stream_offset_ = 0;  // covered by emitted recipe pieces
  uint64_t chunk_count_ = 0;
  uint32_t pieces_ = 0;
  std::deque<std::pair<std::unique_ptr<Batch>, std::future<void>>> window_;
};

void Ingest::Work(Batch* b) const {
  const auto& params = v_->params();
  b->plain.clear();
  for (const Chunk& c : b->chunks) b->plain.emplace_back(b->base() + c.offset, c.length);
  b->ids.resize(b->chunks.size());
  ChunkIds(params.id_algo, v_->keys().id_key, b->plain, b->ids);
  for (size_t i = 0; i < b->chunks.size(); i++) {
    Chunk& c = b->chunks[i];
    const std::string_view plain = b->plain[i];
    c.id = b->ids[i];
    auto known = v_->index()->GetChunk(c.id);
    if (known.ok() && known->has_value()) {
      c.known = **known;
      continue;
    }
    // A failed lookup only costs a duplicate block; the encode goes ahead.
    c.block_offset = b->encoded.size();
    v_->codec().EncodeData(c.id, plain, &b->encoded);
    c.block_length = b->encoded.size() - c.block_offset;
  }
}

Status Ingest::Flush(AppendLane::Guard& lane) {
  BV_RETURN_IF_ERROR(lane.SyncPoint(/*durable=*/false));
  pending_.clear();
  return Status::Ok();
}

Status Ingest::EmitRecipe(AppendLane::Guard& lane, uint16_t stream) {
  if (piece_.entries.empty()) return Status::Ok();
  piece_.stream_index = stream;
  piece_.piece_index = pieces_;
  piece_.stream_offset = stream_offset_;
  BV_ASSIGN_OR_RETURN(Location loc, lane.Append(format::EncodeSnapshotBlock(format::BlockType::kRecipe, rec_.id,
                                                                            format::EncodeRecipe(piece_))));
  lane.pending()->PutRecipe(rec_.id, stream, pieces_, stream_offset_, loc);
  for (const auto& e : piece_.entries) stream_offset_ += e.length;
  pieces_++;
  piece_.entries.clear();
  return Status::Ok();
}

Status Ingest::Complete(Batch* b, uint16_t stream) {
  bool over_quota = false;
  BV_RETURN_IF_ERROR(UnderWriteLock([&](AppendLane::Guard& lane) -> Status {
    for (const Chunk& c : b->chunks) {
      Location loc;
      if (c.known) {
        loc = *c.known;
      } else if (auto it = pending_.find(c.id); it != pending_.end()) {
        loc = it->second;
      } else {
        if (opts_.new_bytes_max && rec_.new_bytes + c.block_length > *opts_.new_bytes_max) {
          over_quota = true;  // not the writer's failure: it stays for the other puts
          return Status::Ok();
        }
        BV_ASSIGN_OR_RETURN(loc, lane.Append(std::string_view(b->encoded).substr(c.block_offset, c.block_length)));
        lane.pending()->PutChunk(c.id, loc);
        pending_.emplace(c.id, loc);
        rec_.new_bytes += loc.total_size();
      }
      rec_.stored_bytes += loc.total_size();
      piece_.entries.push_back({c.id, static_cast<uint32_t>(c.length)});
      chunk_count_++;
      if (piece_.entries.size() == format::kRecipeEntriesMax) BV_RETURN_IF_ERROR(EmitRecipe(lane, stream));
    }
    if (lane.unindexed_bytes() >= kFlushBytes || pending_.size() >= kPendingChunksMax) BV_RETURN_IF_ERROR(Flush(lane));
    return Status::Ok();
  }));
  if (over_quota) {
    return Status::Quota(std::string(kQuotaExceeded) + ": this snapshot would add more than " +
                         std::to_string(*opts_.new_bytes_max) + " new bytes");
  }
  return Status::Ok();
}

void Ingest::DrainFront() {
  window_.front().second.get();
  Batch* b = window_.front().first.get();
  if (failed_.ok()) failed_ = Complete(b, streams_done());
  if (mapped_ != nullptr && b->ext != nullptr) {
    mapped_->Release(static_cast<uint64_t>(b->ext + b->len - mapped_->bytes().data()));  // appended
  }
  Recycle(std::move(window_.front().first));
  window_.pop_front();
  if (opts_.budget) opts_.budget->slots.release();
}

Batch* Ingest::Filling() {
  if (!cur_) {
    if (spares_.empty()) {
      const size_t cap = std::max<size_t>(opts_.batch_input, chunker_.sizes().max) + chunker_.sizes().max;
      cur_ = std::make_unique<Batch>(cap);
    } else {
      cur_ = std::move(spares_.back());
      spares_.pop_back();
    }
  }
  return cur_.get();
}

void Ingest::Recycle(std::unique_ptr<Batch> b) {
  constexpr size_t kSparesMax = 2;
  if (!b || spares_.size() >= kSparesMax) return;
  b->len = 0;
  b->ext = nullptr;
  b->chunks.clear();
  b->encoded.clear();
  spares_.push_back(std::move(b));
}

Status Ingest::StartStream(const std::string& name, uint64_t offset, uint64_t chunk_count, uint32_t pieces) {
  BV_RETURN_IF_ERROR(failed_);
  if (in_stream_) return Status::InvalidArgument("a stream is already open");
  BV_RETURN_IF_ERROR(format::ValidateLabel(name, "stream name"));
  if (rec_.streams.size() >= format::kStreamsMax) return Status::InvalidArgument("a snapshot holds at most 1024 streams");
  in_stream_ = true;
  name_ = name;
  hash_ = std::make_unique<StreamHash>(v_->keys().hash_key);
  Recycle(std::move(cur_));
  length_ = stream_offset_ = offset;
  piece_ = format::RecipePiece{};
  chunk_count_ = chunk_count;
  pieces_ = pieces;
  return Status::Ok();
}

Status Ingest::Write(std::string_view bytes) {
  BV_RETURN_IF_ERROR(failed_);
  if (!in_stream_) return Status::InvalidArgument("no stream is open");
  while (!bytes.empty()) {
    Batch* b = Filling();
    const size_t take = std::min(b->room(), bytes.size());
    std::memcpy(b->own() + b->len, bytes.data(), take);
    b->len += take;
    bytes.remove_prefix(take);
    bytes_in_ += take;
    if (b->room() == 0) BV_RETURN_IF_ERROR(Process(false));
  }
  if (opts_.progress) opts_.progress(bytes_in_);
  return Status::Ok();
}

// As Write, reading straight into the batch: the input is copied once, by the kernel.
Result<size_t> Ingest::WriteFrom(InputStream* in) {
  BV_RETURN_IF_ERROR(failed_);
  if (!in_stream_) return Status::InvalidArgument("no stream is open");
  Batch* b = Filling();
  BV_ASSIGN_OR_RETURN(size_t got, in->Read(b->own() + b->len, b->room()));
  BV_ASSERT(got <= b->room());
  b->len += got;
  bytes_in_ += got;
  if (b->room() == 0) BV_RETURN_IF_ERROR(Process(false));
  if (got > 0 && opts_.progress) opts_.progress(bytes_in_);
  return got;
}

// The whole of a mapped file, chunked where it lies: batches are ranges of the mapping, made
// resident just before they are chunked and released once their blocks are appended.
Status Ingest::WriteMapped(io::MappedFile* m) {
  BV_RETURN_IF_ERROR(failed_);
  if (!in_stream_) return Status::InvalidArgument("no stream is open");
  BV_ASSERT(!cur_ && mapped_ == nullptr);
  mapped_ = m;
  const std::string_view all = m->bytes();
  size_t pos = 0;
  while (pos < all.size()) {
    Batch* b = Filling();
    if (b->len == 0) b->ext = all.data() + pos;
    BV_ASSERT(b->ext != nullptr && b->ext + b->len == all.data() + pos);  // the last batch's tail
    const size_t take = std::min(b->room(), all.size() - pos);
    BV_RETURN_IF_ERROR(m->Populate(pos, take));
    b->len += take;
    pos += take;
    bytes_in_ += take;
    if (b->room() == 0) BV_RETURN_IF_ERROR(Process(false));
    if (opts_.progress) opts_.progress(bytes_in_);
  }
  return Status::Ok();
}

Status Ingest::Process(bool final) {
  const size_t max_chunk = chunker_.sizes().max;
  if (cur_) {
    std::unique_ptr<Batch> b = std::move(cur_);
    const size_t have = b->len;
    size_t pos = 0;
    while (pos < have && (have - pos >= max_chunk || final)) {
      const size_t n = chunker_.NextCut(reinterpret_cast<const uint8_t*>(b->base()) + pos, have - pos);
      b->chunks.push_back(Chunk{pos, n, {}, {}});
      pos += n;
    }
    if (pos < have) {  // the tail starts the next batch: copied, or where it lies in the mapping
      Batch* next = Filling();
      if (b->ext != nullptr) {
        next->ext = b->ext + pos;
      } else {
        std::memcpy(next->own(), b->data.get() + pos, have - pos);
      }
      next->len = have - pos;
      b->len = pos;
    }
    hash_->Update(b->bytes());
    length_ += pos;
    if (b->chunks.empty()) {
      Recycle(std::move(b));
    } else {
      if (opts_.budget) {
        // Never wait for the shared budget while holding finished batches of our own: drain
        // them first, so that every waiter holds nothing another waiter needs.
        while (!opts_.budget->slots.try_acquire()) {
          if (window_.empty()) {
            opts_.budget->slots.acquire();
            break;
          }
          DrainFront();
        }
      }
      Batch* raw = b.get();
      window_.emplace_back(std::move(b), pool_->Submit([this, raw] { Work(raw); }));
    }
  }
  while (window_.size() > (final ? 0 : InflightMax())) DrainFront();
  return failed_;
}

Status Ingest::EndStream() {
  BV_RETURN_IF_ERROR(failed_);
  if (!in_stream_) return Status::InvalidArgument("no stream is open");
  if (Status s = Process(true); !s.ok()) return failed_ = s;
  mapped_ = nullptr;  // every batch over it is appended
  const uint16_t index = streams_done();
  if (Status s = UnderWriteLock([&](AppendLane::Guard& lane) { return EmitRecipe(lane, index); }); !s.ok()) {
    return failed_ = s;
  }
  BV_ASSERT(stream_offset_ == length_ && !cur_);
  format::StreamInfo info;
  info.name = name_;
  info.length = length_;
  info.hash = hash_->Finish();
  info.chunk_count = chunk_count_;
  info.recipe_pieces = pieces_;
  rec_.streams.push_back(std::move(info));
  in_stream_ = false;
  return Status::Ok();
}

format::SessionRecord Ingest::Record() const {
  format::SessionRecord s;
  s.id = rec_.id;
  s.time_us = rec_.time_us;
  s.source = rec_.source;
  s.label = rec_.label;
  s.done = rec_.streams;
  s.in_stream = in_stream_;
  if (in_stream_) {
    s.current.name = name_;
    s.current.length = stream_offset_;
    s.current.chunk_count = chunk_count_;
    s.current.recipe_pieces = pieces_;
  }
  s.stored_bytes = rec_.stored_bytes;
  s.new_bytes = rec_.new_bytes;
  s.updated_us = NowMicros();
  return s;
}

Status Ingest::Sync() {
  BV_RETURN_IF_ERROR(failed_);
  // The open stream is cut where it stands: its last chunk ends here, not where the content
  // would have cut it, so what is durable is exactly the bytes taken so far.
  if (in_stream_) {
    if (Status s = Process(true); !s.ok()) return failed_ = s;
  }
  const uint16_t index = streams_done();
  Status s = UnderWriteLock([&](AppendLane::Guard& lane) -> Status {
    if (in_stream_) BV_RETURN_IF_ERROR(EmitRecipe(lane, index));
    lane.pending()->PutSession(Record());
    BV_RETURN_IF_ERROR(lane.SyncPoint(/*durable=*/true));
    pending_.clear();
    return Status::Ok();
  });
  if (!s.ok()) failed_ = s;
  BV_ASSERT(!s.ok() || stream_offset_ == length_);
  return s;
}

Result<format::SnapshotRecord> Ingest::Commit() {
  BV_RETURN_IF_ERROR(failed_);
  if (in_stream_) return Status::InvalidArgument("a stream is still open");
  if (rec_.streams.empty()) return Status::InvalidArgument("a snapshot holds 1 to 1024 streams, not 0");
  Status s = UnderWriteLock([&](AppendLane::Guard& lane) -> Status {
    BV_ASSIGN_OR_RETURN(Location loc, lane.Append(format::EncodeSnapshotBlock(format::BlockType::kSnapshotCommit, rec_.id,
                                                                              format::EncodeSnapshot(rec_))));
    lane.pending()->PutSnapshot(SnapshotEntry{rec_, loc});
    lane.pending()->DeleteSession(rec_.id);
    return lane.SyncPoint(/*durable=*/true);
  });
  if (!s.ok()) {
    failed_ = s;
    return s;
  }
  return rec_;
}

Status Ingest::Abort() {
  while (!window_.empty()) DrainFront();
  IndexBatch b = v_->index()->NewBatch();
  b.DeleteSession(rec_.id);
  b.DeleteRecipesFrom(rec_.id, 0, 0);
  failed_ = Status::InvalidArgument("the session was aborted");
  return v_->index()->Write(&b, /*sync=*/true);
}

Status Ingest::Resume(const format::SessionRecord& s) {
  rec_.streams = s.done;
  rec_.stored_bytes = s.stored_bytes;
  rec_.new_bytes = s.new_bytes;
  // Pieces written after the last sync (by an intermediate flush) are written again.
  const uint16_t stream = static_cast<uint16_t>(s.done.size());
  IndexBatch b = v_->index()->NewBatch();
  b.DeleteRecipesFrom(rec_.id, stream, s.in_stream ? s.current.recipe_pieces : 0);
  BV_RETURN_IF_ERROR(v_->index()->Write(&b, /*sync=*/true));
  if (!s.in_stream) return Status::Ok();
  BV_RETURN_IF_ERROR(StartStream(s.current.name, s.current.length, s.current.chunk_count, s.current.recipe_pieces));
  if (s.current.length > 0) {
    SnapshotEntry partial;
    partial.record = rec_;
    partial.record.streams.push_back(s.current);
    RestoreOptions ro;
    ro.pool = pool_;
    ro.stream = stream;
    ro.range = ByteRange{0, s.current.length};
    HashSink sink(hash_.get());
    Status rs = Restore(v_, partial, ro, &sink);
    if (!rs.ok()) return Status::Corruption("resuming session " + format::SnapshotIdHex(rec_.id) + ": " + rs.message());
  }
  return Status::Ok();
}

namespace {

Result<uint64_t> NewSnapshotId(Index* index) {
  for (;;) {
    uint64_t id = 0;
    randombytes_buf(&id, sizeof id);
    if (id == 0 || id == UINT64_MAX) continue;
    BV_ASSIGN_OR_RETURN(auto existing, index->GetSnapshot(id));
    BV_ASSIGN_OR_RETURN(auto session, index->GetSession(id));
    if (!existing && !session) return id;
  }
}

Result<uint64_t> WriterGeneration(Volume* v) {
  BV_ASSIGN_OR_RETURN(AppendLane::Guard lane, v->lane()->Lock());  // fails early on an unwritable volume
  return lane.generation();
}

}  // namespace

Result<std::unique_ptr<PutSession>> PutSession::Begin(Volume* v, const PutOptions& opts) {
  BV_RETURN_IF_ERROR(format::ValidateSourceName(opts.source));
  BV_RETURN_IF_ERROR(format::ValidateLabel(opts.label, "label"));
  if (!v->has_keys()) return Status::InvalidArgument("writing needs the volume key");
  BV_ASSIGN_OR_RETURN(uint64_t generation, WriterGeneration(v));
  format::SnapshotRecord rec;
  BV_ASSIGN_OR_RETURN(rec.id, NewSnapshotId(v->index()));
  if (!v->ClaimSession(rec.id)) return Status::Busy("snapshot id collision; try again");
  rec.time_us = opts.time_us.value_or(NowMicros());
  rec.source = opts.source;
  rec.label = opts.label;
  std::unique_ptr<PutSession> s(new PutSession(v));
  s->take_back_ = opts.take_back_on_failure;
  s->impl_ = std::make_unique<Ingest>(v, generation, opts, std::move(rec));
  return s;
}

Result<std::unique_ptr<PutSession>> PutSession::Resume(Volume* v, uint64_t id, const PutOptions& opts) {
  if (!v->has_keys()) return Status::InvalidArgument("writing needs the volume key");
  if (!v->ClaimSession(id)) {
    return Status::Busy("session " + format::SnapshotIdHex(id) + " is still running on another connection");
  }
  std::unique_ptr<PutSession> s(new PutSession(v));
  s->claimed_ = id;
  s->take_back_ = opts.take_back_on_failure;
  BV_ASSIGN_OR_RETURN(auto rec, v->index()->GetSession(id));
  if (!rec) {
    return Status::NotFound("no session " + format::SnapshotIdHex(id) +
                            " (never synced, or committed, aborted or expired since)");
  }
  BV_ASSIGN_OR_RETURN(uint64_t generation, WriterGeneration(v));
  format::SnapshotRecord snap;
  snap.id = rec->id;
  snap.time_us = rec->time_us;
  snap.source = rec->source;
  snap.label = rec->label;
  PutOptions o = opts;
  o.source = rec->source;
  o.label = rec->label;
  s->impl_ = std::make_unique<Ingest>(v, generation, o, std::move(snap));
  BV_RETURN_IF_ERROR(s->impl_->Resume(*rec));
  return s;
}

PutSession::PutSession(Volume* v) : v_(v) { v_->lane()->BeginPut(); }

PutSession::~PutSession() {
  if (impl_) {
    const bool committed = committed_;
    const uint64_t generation = impl_->generation();
    const uint64_t id = impl_->id();
    impl_.reset();
    if (!committed && take_back_) v_->lane()->AbandonPut(generation);
    v_->ReleaseSession(id);
  } else if (claimed_ != 0) {
    v_->ReleaseSession(claimed_);
  }
  v_->lane()->EndPut();
}

uint64_t PutSession::id() const { return impl_->id(); }
uint16_t PutSession::streams_done() const { return impl_->streams_done(); }
bool PutSession::in_stream() const { return impl_->in_stream(); }
uint64_t PutSession::offset() const { return impl_->offset(); }
Status PutSession::StartStream(const std::string& name) { return impl_->StartStream(name, 0, 0, 0); }
Status PutSession::Write(std::string_view bytes) { return impl_->Write(bytes); }
Result<size_t> PutSession::WriteFrom(InputStream* in) { return impl_->WriteFrom(in); }
Status PutSession::WriteMapped(io::MappedFile* m) { return impl_->WriteMapped(m); }
Status PutSession::EndStream() { return impl_->EndStream(); }
Status PutSession::Sync() { return impl_->Sync(); }
Status PutSession::Abort() { return impl_->Abort(); }

Result<format::SnapshotRecord> PutSession::Commit() {
  BV_ASSIGN_OR_RETURN(format::SnapshotRecord r, impl_->Commit());
  committed_ = true;
  return r;
}

Result<format::SnapshotRecord> Put(Volume* volume, const PutOptions& opts, const std::vector<NamedInput>& streams) {
  if (streams.empty() || streams.size() > format::kStreamsMax) {
    return Status::InvalidArgument("a snapshot holds 1 to 1024 streams, not " + std::to_string(streams.size()));
  }
  for (const NamedInput& s : streams) BV_RETURN_IF_ERROR(format::ValidateLabel(s.name, "stream name"));
  BV_ASSIGN_OR_RETURN(auto session, PutSession::Begin(volume, opts));
  for (const NamedInput& in : streams) {
    BV_RETURN_IF_ERROR(session->StartStream(in.name));
    if (io::MappedFile* m = in.input->Mapped()) {
      BV_RETURN_IF_ERROR(session->WriteMapped(m));
    } else {
      for (;;) {
        BV_ASSIGN_OR_RETURN(size_t got, session->WriteFrom(in.input));
        if (got == 0) break;
      }
    }
    BV_RETURN_IF_ERROR(session->EndStream());
  }
  return session->Commit();
}

Status ExpireSessions(Volume* volume, int64_t older_than_us, std::vector<uint64_t>* expired) {
  std::vector<format::SessionRecord> old;
  BV_RETURN_IF_ERROR(volume->index()->ForEachSession([&](const format::SessionRecord& r) {
    if (r.updated_us < older_than_us) old.push_back(r);
    return Status::Ok();
  }));
  for (const auto& r : old) {
    if (!volume->ClaimSession(r.id)) continue;  // someone is resuming it right now
    IndexBatch b = volume->index()->NewBatch();
    b.DeleteSession(r.id);
    b.DeleteRecipesFrom(r.id, 0, 0);
    Status s = volume->index()->Write(&b, /*sync=*/true);
    volume->ReleaseSession(r.id);
    BV_RETURN_IF_ERROR(s);
    if (expired) expired->push_back(r.id);
  }
  return Status::Ok();
}

}  // namespace bv::engine
