#include "engine/ingest.h"

#include <algorithm>

#include "engine/chunk_id.h"
#include "format/name_rules.h"

namespace bv::engine {

namespace {

constexpr uint64_t kFlushBytes = 64ull << 20;     // appended bytes between intermediate syncs
constexpr size_t kPendingChunksMax = 1 << 16;     // chunk entries held before a sync
constexpr size_t kSparesMax = 2;                  // idle batches kept for the next ones

struct Chunk {
  size_t offset, length;
  format::Id id;
  std::optional<Location> known;  // the index already has it
  size_t block_offset = 0, block_length = 0;  // in Batch::encoded
};

}  // namespace

// Input bytes (the first `len` of a buffer of `cap`, or of a mapped file at `ext`), their chunks
// once cut, and the blocks the workers encode. Reused batch after batch, so their memory is
// faulted in once.
struct Ingest::Batch {
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
  // Empty, for the next batch; the memory of its buffer and vectors stays.
  void Reset() {
    len = 0;
    ext = nullptr;
    chunks.clear();
    encoded.clear();
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

Ingest::Ingest(Volume* v, uint64_t generation, const PutOptions& opts, format::SnapshotRecord rec)
    : v_(v), generation_(generation), opts_(opts), rec_(std::move(rec)),
      own_pool_(opts.pool ? nullptr : new ThreadPool(opts.threads ? opts.threads : ThreadPool::DefaultThreads())),
      pool_(opts.pool ? opts.pool : own_pool_.get()),
      chunker_(ChunkSizes{v->params().chunk_min, v->params().chunk_avg, v->params().chunk_max}, v->keys().gear_seed),
      spares_(kSparesMax) {
  if (opts_.budget) opts_.budget->sharers.fetch_add(1);
}

Ingest::~Ingest() {
  while (!window_.empty()) DrainFront();  // never leave a worker holding a freed batch
  if (opts_.budget) opts_.budget->sharers.fetch_sub(1);
}

uint64_t Ingest::offset() const { return length_ + (cur_ ? cur_->len : 0); }

format::StreamInfo Ingest::open_stream() const {
  format::StreamInfo s;
  s.name = name_;
  s.length = stream_offset_;
  s.chunk_count = chunk_count_;
  s.recipe_pieces = pieces_;
  return s;
}

size_t Ingest::InflightMax() const {
  size_t max = 2 * pool_->size() + 1;
  if (opts_.budget) {
    const size_t sharers = static_cast<size_t>(std::max(1, opts_.budget->sharers.load()));
    max = std::min(max, std::max<size_t>(1, static_cast<size_t>(opts_.budget->size) / sharers));
  }
  return max;
}

Status Ingest::UnderLane(const std::function<Status(AppendLane::Guard&)>& fn) {
  Status s = [&]() -> Status {
    BV_ASSIGN_OR_RETURN(AppendLane::Guard lane, v_->lane()->Lock(generation_));
    return fn(lane);
  }();
  if (!s.ok()) failed_ = s;
  return s;
}

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
    // A block in a segment being compacted may be gone by the time this put commits: store the
    // chunk again instead (format-spec [CMP-2]).
    if (known.ok() && known->has_value() && !v_->Fenced((*known)->segment)) {
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
  bool over_quota = false, over_shared_quota = false;
  BV_RETURN_IF_ERROR(UnderLane([&](AppendLane::Guard& lane) -> Status {
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
        if (opts_.reserve_new_bytes && !opts_.reserve_new_bytes(c.block_length)) {
          over_shared_quota = true;
          return Status::Ok();
        }
        if (opts_.disk_reserve > 0) BV_RETURN_IF_ERROR(v_->KeepDiskReserve(opts_.disk_reserve, c.block_length));
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
  if (over_shared_quota) {
    return Status::Quota(std::string(kQuotaExceeded) + ": this snapshot's new bytes (" + std::to_string(rec_.new_bytes) +
                         " so far) do not fit beside what is stored and the other pushes in flight");
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

Ingest::Batch* Ingest::Filling() {
  if (!cur_) cur_ = spares_.Take();
  if (!cur_) {
    const size_t cap = std::max<size_t>(opts_.batch_input, chunker_.sizes().max) + chunker_.sizes().max;
    cur_ = std::make_unique<Batch>(cap);
  }
  return cur_.get();
}

void Ingest::Recycle(std::unique_ptr<Batch> b) {
  if (b) b->Reset();
  spares_.Give(std::move(b));
}

Status Ingest::StartStream(const format::StreamInfo& at) {
  BV_RETURN_IF_ERROR(failed_);
  if (in_stream_) return Status::InvalidArgument("a stream is already open");
  BV_RETURN_IF_ERROR(format::ValidateLabel(at.name, "stream name"));
  BV_RETURN_IF_ERROR(format::ValidateNewName(at.name, "stream name"));
  for (const format::StreamInfo& done : rec_.streams) {
    if (done.name == at.name) {
      return Status::InvalidArgument("the snapshot has a stream named '" + at.name + "' already; stream names differ");
    }
  }
  if (rec_.streams.size() >= format::kStreamsMax) return Status::InvalidArgument("a snapshot holds at most 1024 streams");
  in_stream_ = true;
  name_ = at.name;
  hash_ = std::make_unique<StreamHash>(v_->keys().hash_key);
  Recycle(std::move(cur_));
  length_ = stream_offset_ = at.length;
  piece_ = format::RecipePiece{};
  chunk_count_ = at.chunk_count;
  pieces_ = at.recipe_pieces;
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
      AcquireBudget();
      Batch* raw = b.get();
      window_.emplace_back(std::move(b), pool_->Submit([this, raw] { Work(raw); }));
    }
  }
  while (window_.size() > (final ? 0 : InflightMax())) DrainFront();
  return failed_;
}

void Ingest::AcquireBudget() {
  if (!opts_.budget) return;
  // Never wait for the shared budget while holding finished batches of our own: drain them
  // first, so that every waiter holds nothing another waiter needs.
  while (!opts_.budget->slots.try_acquire()) {
    if (window_.empty()) {
      opts_.budget->slots.acquire();
      return;
    }
    DrainFront();
  }
}

Status Ingest::EndStream() {
  BV_RETURN_IF_ERROR(failed_);
  if (!in_stream_) return Status::InvalidArgument("no stream is open");
  if (Status s = Process(true); !s.ok()) return failed_ = s;
  mapped_ = nullptr;  // every batch over it is appended
  const uint16_t index = streams_done();
  BV_RETURN_IF_ERROR(UnderLane([&](AppendLane::Guard& lane) { return EmitRecipe(lane, index); }));
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

Status Ingest::Sync(const std::function<void(IndexBatch*)>& also) {
  BV_RETURN_IF_ERROR(failed_);
  if (in_stream_) {
    if (Status s = Process(true); !s.ok()) return failed_ = s;
  }
  const uint16_t index = streams_done();
  Status s = UnderLane([&](AppendLane::Guard& lane) -> Status {
    if (in_stream_) BV_RETURN_IF_ERROR(EmitRecipe(lane, index));
    also(lane.pending());
    BV_RETURN_IF_ERROR(lane.SyncPoint(/*durable=*/true));
    pending_.clear();
    return Status::Ok();
  });
  BV_ASSERT(!s.ok() || stream_offset_ == length_);
  return s;
}

void Ingest::Stop(const Status& why) {
  while (!window_.empty()) DrainFront();
  failed_ = why;
}

}  // namespace bv::engine
