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

struct Batch {
  std::string data;
  std::vector<Chunk> chunks;
  std::string encoded;
};

class Ingest {
 public:
  Ingest(Volume* v, uint64_t generation, const PutOptions& opts, uint64_t snapshot_id)
      : v_(v), generation_(generation), opts_(opts), snapshot_id_(snapshot_id),
        own_pool_(opts.pool ? nullptr : new ThreadPool(opts.threads ? opts.threads : ThreadPool::DefaultThreads())),
        pool_(opts.pool ? opts.pool : own_pool_.get()),
        chunker_(ChunkSizes{v->params().chunk_min, v->params().chunk_avg, v->params().chunk_max},
                 v->keys().gear_seed),
        batch_(v->index()->NewBatch()) {}

  Result<format::StreamInfo> Stream(uint16_t index, const NamedInput& in);
  Status Commit(format::SnapshotRecord* rec);

 private:
  void Work(Batch* b) const;
  Status Complete(Batch* b, uint16_t stream);
  Status EmitRecipe(SegmentWriter* w, uint16_t stream);
  Status Flush(SegmentWriter* w);
  Status UnderWriteLock(const std::function<Status(SegmentWriter*)>& fn) { return v_->WithWriter(generation_, fn); }

  Volume* v_;
  const uint64_t generation_;
  const PutOptions& opts_;
  uint64_t snapshot_id_;
  std::unique_ptr<ThreadPool> own_pool_;
  ThreadPool* pool_;
  Chunker chunker_;
  IndexBatch batch_;
  std::unordered_map<format::Id, Location, IdHash> pending_;  // appended since the last sync
  uint64_t since_flush_ = 0;
  uint64_t bytes_in_ = 0;
  // The current stream's recipe.
  format::RecipePiece piece_;
  uint64_t stream_offset_ = 0;
  uint64_t chunk_count_ = 0;
  uint32_t pieces_ = 0;

 public:
  uint64_t stored_bytes = 0;
  uint64_t new_bytes = 0;
};

void Ingest::Work(Batch* b) const {
  const auto& params = v_->params();
  for (Chunk& c : b->chunks) {
    std::string_view plain(b->data.data() + c.offset, c.length);
    c.id = ChunkId(params.id_algo, v_->keys().id_key, plain);
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

Status Ingest::Flush(SegmentWriter* w) {
  BV_RETURN_IF_ERROR(w->Sync());
  w->RecordStates(&batch_);
  BV_RETURN_IF_ERROR(v_->index()->Write(&batch_, /*sync=*/false));
  batch_ = v_->index()->NewBatch();
  pending_.clear();
  since_flush_ = 0;
  return Status::Ok();
}

Status Ingest::EmitRecipe(SegmentWriter* w, uint16_t stream) {
  if (piece_.entries.empty()) return Status::Ok();
  piece_.stream_index = stream;
  piece_.piece_index = pieces_;
  piece_.stream_offset = stream_offset_;
  format::BlockHeader h;
  h.type = format::BlockType::kRecipe;
  h.id = format::SnapshotIdToBlockId(snapshot_id_);
  const std::string payload = format::EncodeRecipe(piece_);
  h.raw_len = static_cast<uint32_t>(payload.size());
  BV_ASSIGN_OR_RETURN(Location loc, w->Append(format::EncodeBlock(h, payload)));
  batch_.PutRecipe(snapshot_id_, stream, pieces_, stream_offset_, loc);
  since_flush_ += loc.total_size();
  for (const auto& e : piece_.entries) stream_offset_ += e.length;
  pieces_++;
  piece_.entries.clear();
  return Status::Ok();
}

Status Ingest::Complete(Batch* b, uint16_t stream) {
  bool over_quota = false;
  BV_RETURN_IF_ERROR(UnderWriteLock([&](SegmentWriter* w) -> Status {
    for (const Chunk& c : b->chunks) {
      Location loc;
      if (c.known) {
        loc = *c.known;
      } else if (auto it = pending_.find(c.id); it != pending_.end()) {
        loc = it->second;
      } else {
        if (opts_.new_bytes_max && new_bytes + c.block_length > *opts_.new_bytes_max) {
          over_quota = true;  // not the writer's failure: it stays for the other puts
          return Status::Ok();
        }
        BV_ASSIGN_OR_RETURN(loc, w->Append(std::string_view(b->encoded).substr(c.block_offset, c.block_length)));
        batch_.PutChunk(c.id, loc);
        pending_.emplace(c.id, loc);
        new_bytes += loc.total_size();
        since_flush_ += loc.total_size();
      }
      stored_bytes += loc.total_size();
      piece_.entries.push_back({c.id, static_cast<uint32_t>(c.length)});
      chunk_count_++;
      if (piece_.entries.size() == format::kRecipeEntriesMax) BV_RETURN_IF_ERROR(EmitRecipe(w, stream));
    }
    if (since_flush_ >= kFlushBytes || pending_.size() >= kPendingChunksMax) BV_RETURN_IF_ERROR(Flush(w));
    return Status::Ok();
  }));
  if (over_quota) {
    return Status::Quota(std::string(kQuotaExceeded) + ": this snapshot would add more than " +
                         std::to_string(*opts_.new_bytes_max) + " new bytes");
  }
  return Status::Ok();
}

Result<format::StreamInfo> Ingest::Stream(uint16_t index, const NamedInput& in) {
  piece_ = format::RecipePiece{};
  stream_offset_ = 0;
  chunk_count_ = 0;
  pieces_ = 0;
  StreamHash hash(v_->keys().hash_key);
  const size_t max_chunk = chunker_.sizes().max;
  const size_t batch_input = std::max<size_t>(opts_.batch_input, max_chunk);
  const size_t inflight_max = 2 * pool_->size() + 1;
  std::deque<std::pair<std::unique_ptr<Batch>, std::future<void>>> window;
  std::string carry;
  uint64_t length = 0;
  bool eof = false;
  Status failed;
  auto drain_front = [&] {
    window.front().second.get();
    if (failed.ok()) failed = Complete(window.front().first.get(), index);
    window.pop_front();
    if (opts_.budget) opts_.budget->release();
  };
  while (!eof && failed.ok()) {
    auto b = std::make_unique<Batch>();
    b->data.resize(batch_input + max_chunk);
    std::memcpy(b->data.data(), carry.data(), carry.size());
    size_t have = carry.size();
    while (have < batch_input + max_chunk) {
      auto got = in.input->Read(b->data.data() + have, b->data.size() - have);
      if (!got.ok()) {
        failed = got.status();
        break;
      }
      if (*got == 0) {
        eof = true;
        break;
      }
      have += *got;
      bytes_in_ += *got;
    }
    if (!failed.ok()) break;
    b->data.resize(have);
    size_t pos = 0;
    while (pos < have && (have - pos >= max_chunk || eof)) {
      size_t n = chunker_.NextCut(reinterpret_cast<const uint8_t*>(b->data.data()) + pos, have - pos);
      b->chunks.push_back(Chunk{pos, n, {}, {}});
      pos += n;
    }
    carry.assign(b->data, pos, std::string::npos);
    b->data.resize(pos);
    hash.Update(b->data);
    length += pos;
    if (!b->chunks.empty()) {
      if (opts_.budget) {
        // Never wait for the shared budget while holding finished batches of our own: drain
        // them first, so that every waiter holds nothing another waiter needs.
        while (!opts_.budget->try_acquire()) {
          if (window.empty()) {
            opts_.budget->acquire();
            break;
          }
          drain_front();
        }
      }
      Batch* raw = b.get();
      window.emplace_back(std::move(b), pool_->Submit([this, raw] { Work(raw); }));
    }
    // Drained whether or not this batch had chunks: the last read may bring none.
    while (window.size() > inflight_max || (eof && !window.empty())) drain_front();
    if (opts_.progress) opts_.progress(bytes_in_);
  }
  while (!window.empty()) drain_front();  // never leave a worker holding a freed batch
  BV_RETURN_IF_ERROR(failed);
  BV_RETURN_IF_ERROR(UnderWriteLock([&](SegmentWriter* w) { return EmitRecipe(w, index); }));
  format::StreamInfo info;
  info.name = in.name;
  info.length = length;
  info.hash = hash.Finish();
  info.chunk_count = chunk_count_;
  info.recipe_pieces = pieces_;
  BV_ASSERT(stream_offset_ == length);
  return info;
}

Status Ingest::Commit(format::SnapshotRecord* rec) {
  rec->stored_bytes = stored_bytes;
  rec->new_bytes = new_bytes;
  return UnderWriteLock([&](SegmentWriter* w) -> Status {
    format::BlockHeader h;
    h.type = format::BlockType::kSnapshotCommit;
    h.id = format::SnapshotIdToBlockId(rec->id);
    const std::string payload = format::EncodeSnapshot(*rec);
    h.raw_len = static_cast<uint32_t>(payload.size());
    BV_ASSIGN_OR_RETURN(Location loc, w->Append(format::EncodeBlock(h, payload)));
    BV_RETURN_IF_ERROR(w->Sync());
    w->RecordStates(&batch_);
    batch_.PutSnapshot(SnapshotEntry{*rec, loc});
    return v_->index()->Write(&batch_, /*sync=*/true);
  });
}

Result<uint64_t> NewSnapshotId(Index* index) {
  for (;;) {
    uint64_t id = 0;
    randombytes_buf(&id, sizeof id);
    if (id == 0) continue;
    BV_ASSIGN_OR_RETURN(auto existing, index->GetSnapshot(id));
    if (!existing) return id;
  }
}

}  // namespace

Result<format::SnapshotRecord> Put(Volume* volume, const PutOptions& opts, const std::vector<NamedInput>& streams) {
  BV_RETURN_IF_ERROR(format::ValidateSourceName(opts.source));
  BV_RETURN_IF_ERROR(format::ValidateLabel(opts.label, "label"));
  if (streams.empty() || streams.size() > format::kStreamsMax) {
    return Status::InvalidArgument("a snapshot holds 1 to 1024 streams, not " + std::to_string(streams.size()));
  }
  for (const NamedInput& s : streams) BV_RETURN_IF_ERROR(format::ValidateLabel(s.name, "stream name"));
  if (!volume->has_keys()) return Status::InvalidArgument("writing needs the volume key");
  uint64_t generation;
  {
    std::lock_guard lock(volume->write_mutex());
    BV_ASSIGN_OR_RETURN(SegmentWriter * w, volume->writer());  // fails early on an unwritable volume
    (void)w;
    generation = volume->writer_generation();
  }

  format::SnapshotRecord rec;
  BV_ASSIGN_OR_RETURN(rec.id, NewSnapshotId(volume->index()));
  rec.time_us = opts.time_us.value_or(NowMicros());
  rec.source = opts.source;
  rec.label = opts.label;
  volume->BeginPut();
  Status s;
  {
    Ingest ingest(volume, generation, opts, rec.id);
    for (size_t i = 0; i < streams.size() && s.ok(); i++) {
      auto info = ingest.Stream(static_cast<uint16_t>(i), streams[i]);
      if (info.ok()) {
        rec.streams.push_back(std::move(info).value());
      } else {
        s = info.status();
      }
    }
    if (s.ok()) s = ingest.Commit(&rec);
  }
  // On failure nothing was committed: what was appended is unreferenced.
  if (!s.ok()) volume->AbandonPut(generation);
  volume->EndPut();
  if (!s.ok()) return s;
  return rec;
}

}  // namespace bv::engine
