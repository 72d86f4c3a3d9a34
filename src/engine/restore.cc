#include "engine/restore.h"

#include <sodium.h>

#include <deque>
#include <future>
#include <memory>
#include <optional>

#include "engine/stream_hash.h"
#include "engine/thread_pool.h"
#include "format/recipe_format.h"

namespace bv::engine {

namespace {


std::string IdHex(const format::Id& id) {
  char hex[2 * format::kIdSize + 1];
  sodium_bin2hex(hex, sizeof hex, id.data(), id.size());
  return std::string(hex, 16);
}

struct Item {
  format::BlockHeader header;
  size_t payload_offset, payload_length;  // in Batch::stored
  format::Id id;
  uint32_t length;
  uint64_t stream_offset;
  uint32_t skip, take;  // the part of the chunk that is output
  Location where;
};

struct Batch {
  std::string stored;
  std::vector<Item> items;
  std::string plain;  // decoded chunks, back to back
  Status status;
};

class Restorer {
 public:
  Restorer(Volume* v, const SnapshotEntry& snap, const RestoreOptions& opts, OutputSink* out)
      : v_(v), snap_(snap), opts_(opts), out_(out),
        own_pool_(opts.pool ? nullptr : new ThreadPool(opts.threads ? opts.threads : ThreadPool::DefaultThreads())),
        pool_(opts.pool ? opts.pool : own_pool_.get()),
        hash_(v->keys().hash_key),
        reader_(v->env(), v->segments_dir(), opts.read_window) {}

  Status Run();

 private:
  std::string Where(uint64_t stream_offset) const {
    return "snapshot " + format::SnapshotIdHex(snap_.record.id) + " stream " + std::to_string(opts_.stream) +
           " at byte " + std::to_string(stream_offset);
  }
  Status AddChunk(const format::RecipeEntry& e, uint64_t stream_offset);
  void Decode(Batch* b) const;
  Status Submit();
  Status Drain(size_t keep);

  Volume* v_;
  const SnapshotEntry& snap_;
  const RestoreOptions& opts_;
  OutputSink* out_;
  std::unique_ptr<ThreadPool> own_pool_;
  ThreadPool* pool_;
  StreamHash hash_;
  // Its own reader (read window and open files), so restores can run side by side.
  SegmentReader reader_;
  std::unique_ptr<Batch> current_ = std::make_unique<Batch>();
  size_t current_raw_ = 0;
  std::deque<std::pair<std::unique_ptr<Batch>, std::future<void>>> window_;
  uint64_t written_ = 0;
};

void Restorer::Decode(Batch* b) const {
  size_t total = 0;
  for (const Item& it : b->items) total += it.length;
  b->plain.resize(total);
  size_t at = 0;
  for (const Item& it : b->items) {
    std::string_view payload(b->stored.data() + it.payload_offset, it.payload_length);
    Status s = v_->codec().DecodeData(it.header, payload, reinterpret_cast<uint8_t*>(b->plain.data() + at));
    if (!s.ok()) {
      b->status = Status::Corruption(Where(it.stream_offset) + ": segment " + std::to_string(it.where.segment) +
                                     " offset " + std::to_string(it.where.offset) + ": " + s.message());
      return;
    }
    at += it.length;
  }
}

Status Restorer::Submit() {
  if (current_->items.empty()) return Status::Ok();
  Batch* raw = current_.get();
  window_.emplace_back(std::move(current_), pool_->Submit([this, raw] { Decode(raw); }));
  current_ = std::make_unique<Batch>();
  current_raw_ = 0;
  return Drain(opts_.batches_in_flight ? opts_.batches_in_flight : 2 * pool_->size() + 1);
}

Status Restorer::Drain(size_t keep) {
  while (window_.size() > keep) {
    window_.front().second.get();
    std::unique_ptr<Batch> b = std::move(window_.front().first);
    window_.pop_front();
    BV_RETURN_IF_ERROR(b->status);
    size_t at = 0;
    for (const Item& it : b->items) {
      std::string_view chunk(b->plain.data() + at, it.length);
      if (!opts_.range) hash_.Update(chunk);
      BV_RETURN_IF_ERROR(out_->Write(chunk.substr(it.skip, it.take)));
      written_ += it.take;
      at += it.length;
    }
    if (opts_.progress) opts_.progress(written_);
  }
  return Status::Ok();
}

Status Restorer::AddChunk(const format::RecipeEntry& e, uint64_t stream_offset) {
  uint64_t begin = 0, end = e.length;
  if (opts_.range) {
    const uint64_t lo = std::max(opts_.range->begin, stream_offset);
    const uint64_t hi = std::min(opts_.range->end, stream_offset + e.length);
    if (lo >= hi) return Status::Ok();
    begin = lo - stream_offset;
    end = hi - stream_offset;
  }
  BV_ASSIGN_OR_RETURN(auto loc, v_->index()->GetChunk(e.chunk_id));
  if (!loc) {
    return Status::Corruption(Where(stream_offset) + ": chunk " + IdHex(e.chunk_id) + " is not in the index");
  }
  format::BlockHeader h;
  std::string_view payload;
  Status s = reader_.ReadBlock(*loc, &h, &payload);
  if (!s.ok()) return Status::Corruption(Where(stream_offset) + ": " + s.message());
  if (h.id != e.chunk_id || h.raw_len != e.length) {
    return Status::Corruption(Where(stream_offset) + ": segment " + std::to_string(loc->segment) + " offset " +
                              std::to_string(loc->offset) + " holds a different chunk than the recipe names");
  }
  Item it{h, current_->stored.size(), payload.size(), e.chunk_id, e.length, stream_offset,
          static_cast<uint32_t>(begin), static_cast<uint32_t>(end - begin), *loc};
  current_->stored.append(payload);
  current_->items.push_back(it);
  current_raw_ += e.length;
  if (current_raw_ >= opts_.batch_output) return Submit();
  return Status::Ok();
}

Status Restorer::Run() {
  const auto& streams = snap_.record.streams;
  if (opts_.stream >= streams.size()) {
    return Status::InvalidArgument("snapshot " + format::SnapshotIdHex(snap_.record.id) + " has no stream " +
                                   std::to_string(opts_.stream));
  }
  const format::StreamInfo& info = streams[opts_.stream];
  if (opts_.range && (opts_.range->begin > opts_.range->end || opts_.range->end > info.length)) {
    return Status::InvalidArgument("range " + std::to_string(opts_.range->begin) + "-" +
                                   std::to_string(opts_.range->end) + " is outside the stream of " +
                                   std::to_string(info.length) + " bytes");
  }
  uint64_t offset = 0;  // where the next piece read must start, for a whole stream
  uint32_t pieces = 0;
  auto read_piece = [&](uint32_t piece, uint64_t start, const Location& loc) -> Status {
    format::BlockHeader h;
    std::string_view payload;
    Status rs = reader_.ReadBlock(loc, &h, &payload);
    if (!rs.ok()) return Status::Corruption(Where(start) + ": recipe piece " + std::to_string(piece) + ": " + rs.message());
    auto r = format::DecodeRecipe(payload);
    if (!r.ok()) return Status::Corruption(Where(start) + ": " + r.status().message());
    if (h.type != format::BlockType::kRecipe || format::SnapshotIdFromBlockId(h.id) != snap_.record.id ||
        r->stream_index != opts_.stream || r->piece_index != piece || r->stream_offset != start ||
        (!opts_.range && start != offset)) {
      return Status::Corruption(Where(start) + ": recipe piece " + std::to_string(piece) + " at segment " +
                                std::to_string(loc.segment) + " offset " + std::to_string(loc.offset) +
                                " does not belong here");
    }
    pieces++;
    offset = start;
    for (const format::RecipeEntry& e : r->entries) {
      BV_RETURN_IF_ERROR(AddChunk(e, offset));
      offset += e.length;
    }
    return Status::Ok();
  };
  // A range restore reads only the pieces its range touches. A piece that starts at or before the
  // range's start is held until the next piece tells whether the range begins inside it.
  struct Held {
    uint32_t piece;
    uint64_t start;
    Location loc;
  };
  std::optional<Held> held;
  Status s = v_->index()->ForEachRecipe(snap_.record.id, opts_.stream,
                                        [&](uint32_t piece, uint64_t start, const Location& loc) -> Status {
    if (opts_.range) {
      if (start <= opts_.range->begin) {
        held = Held{piece, start, loc};
        return Status::Ok();
      }
      if (held) {
        BV_RETURN_IF_ERROR(read_piece(held->piece, held->start, held->loc));
        held.reset();
      }
      if (start >= opts_.range->end) return Status::Ok();
    }
    return read_piece(piece, start, loc);
  });
  if (s.ok() && held) s = read_piece(held->piece, held->start, held->loc);
  if (s.ok()) s = Submit();
  if (s.ok()) s = Drain(0);
  for (auto& [b, done] : window_) done.get();
  BV_RETURN_IF_ERROR(s);
  if (!opts_.range) {
    if (pieces != info.recipe_pieces || offset != info.length) {
      return Status::Corruption(Where(offset) + ": recipes cover " + std::to_string(offset) + " bytes in " +
                                std::to_string(pieces) + " pieces; the snapshot says " + std::to_string(info.length) +
                                " bytes in " + std::to_string(info.recipe_pieces));
    }
    if (hash_.Finish() != info.hash) {
      return Status::Corruption(Where(offset) + ": the restored stream does not match its recorded hash");
    }
  }
  return Status::Ok();
}

}  // namespace

Status Restore(Volume* volume, const SnapshotEntry& snapshot, const RestoreOptions& opts, OutputSink* out) {
  if (!volume->has_keys()) return Status::InvalidArgument("restoring needs the volume key");
  Restorer r(volume, snapshot, opts, out);
  return r.Run();
}

}  // namespace bv::engine
