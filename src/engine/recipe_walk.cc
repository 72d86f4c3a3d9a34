#include "engine/recipe_walk.h"

namespace bv::engine {

std::string StreamPlace(const SnapshotEntry& snapshot, uint16_t stream, uint64_t offset) {
  return StreamPlace(format::SnapshotIdHex(snapshot.record.id), stream, offset);
}

std::string StreamPlace(std::string_view snapshot_id_hex, uint64_t stream, uint64_t offset) {
  return "snapshot " + std::string(snapshot_id_hex) + " stream " + std::to_string(stream) + " at byte " +
         std::to_string(offset);
}

Status WalkRecipe(Volume* volume, SegmentReader* reader, const SnapshotEntry& snapshot, uint16_t stream,
                  const std::optional<ByteRange>& range, const std::function<Status(const ChunkRef&)>& fn) {
  const auto& streams = snapshot.record.streams;
  if (stream >= streams.size()) {
    return Status::InvalidArgument("snapshot " + format::SnapshotIdHex(snapshot.record.id) + " has no stream " +
                                   std::to_string(stream));
  }
  const format::StreamInfo& info = streams[stream];
  if (range && (range->begin > range->end || range->end > info.length)) {
    return Status::InvalidArgument("range " + std::to_string(range->begin) + "-" + std::to_string(range->end) +
                                   " is outside the stream of " + std::to_string(info.length) + " bytes");
  }
  uint64_t offset = 0;  // where the next piece read must start, for a whole stream
  uint32_t pieces = 0;
  auto read_piece = [&](uint32_t piece, uint64_t start, const Location& loc) -> Status {
    format::BlockHeader h;
    std::string_view payload;
    const std::string where = StreamPlace(snapshot, stream, start);
    Status rs = reader->ReadBlock(loc, &h, &payload);
    if (!rs.ok()) return Status::Corruption(where + ": recipe piece " + std::to_string(piece) + ": " + rs.message());
    auto r = format::DecodeRecipe(payload);
    if (!r.ok()) return Status::Corruption(where + ": " + r.status().message());
    if (h.type != format::BlockType::kRecipe || format::SnapshotIdFromBlockId(h.id) != snapshot.record.id ||
        r->stream_index != stream || r->piece_index != piece || r->stream_offset != start ||
        (!range && start != offset)) {
      return Status::Corruption(where + ": recipe piece " + std::to_string(piece) + " at segment " +
                                std::to_string(loc.segment) + " offset " + std::to_string(loc.offset) +
                                " does not belong here");
    }
    pieces++;
    offset = start;
    for (const format::RecipeEntry& e : r->entries) {
      uint64_t begin = 0, end = e.length;
      if (range) {
        begin = std::max(range->begin, offset);
        end = std::min(range->end, offset + e.length);
        if (begin >= end) {
          offset += e.length;
          continue;
        }
        begin -= offset;
        end -= offset;
      }
      BV_RETURN_IF_ERROR(fn(ChunkRef{e, offset, static_cast<uint32_t>(begin), static_cast<uint32_t>(end - begin)}));
      offset += e.length;
    }
    return Status::Ok();
  };
  // A range walk reads only the pieces its range touches. A piece that starts at or before the
  // range's start is held until the next piece tells whether the range begins inside it.
  struct Held {
    uint32_t piece;
    uint64_t start;
    Location loc;
  };
  std::optional<Held> held;
  Status s = volume->index()->ForEachRecipe(snapshot.record.id, stream,
                                            [&](uint32_t piece, uint64_t start, const Location& loc) -> Status {
    if (range) {
      if (start <= range->begin) {
        held = Held{piece, start, loc};
        return Status::Ok();
      }
      if (held) {
        BV_RETURN_IF_ERROR(read_piece(held->piece, held->start, held->loc));
        held.reset();
      }
      if (start >= range->end) return Status::Ok();
    }
    return read_piece(piece, start, loc);
  });
  if (s.ok() && held) s = read_piece(held->piece, held->start, held->loc);
  BV_RETURN_IF_ERROR(s);
  if (!range && (pieces != info.recipe_pieces || offset != info.length)) {
    return Status::Corruption(StreamPlace(snapshot, stream, offset) + ": recipes cover " + std::to_string(offset) +
                              " bytes in " + std::to_string(pieces) + " pieces; the snapshot says " +
                              std::to_string(info.length) + " bytes in " + std::to_string(info.recipe_pieces));
  }
  return Status::Ok();
}

}  // namespace bv::engine
