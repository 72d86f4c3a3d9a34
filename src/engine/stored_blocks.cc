#include "engine/stored_blocks.h"

#include "engine/chunk_id.h"

namespace bv::engine {

Result<Location> LocateChunk(Volume* volume, const SnapshotEntry& snapshot, uint16_t stream, const ChunkRef& c) {
  const std::string place = StreamPlace(snapshot, stream, c.stream_offset);
  BV_ASSIGN_OR_RETURN(auto loc, volume->index()->GetChunk(c.entry.chunk_id));
  if (!loc) {
    BV_ASSIGN_OR_RETURN(auto damaged, volume->index()->GetQuarantined(c.entry.chunk_id));
    if (damaged) {
      return Status::Corruption(place + ": chunk " + ChunkIdHex(c.entry.chunk_id) + " is damaged (segment " +
                                std::to_string(damaged->segment) + " offset " + std::to_string(damaged->offset) +
                                ") and quarantined until a backup that holds it stores it again");
    }
    return Status::Corruption(place + ": chunk " + ChunkIdHex(c.entry.chunk_id) + " is not in the index");
  }
  if (loc->total_size() > format::kBlockHeaderSize + format::kBlockPayloadMax) {
    return Status::Corruption(place + ": segment " + std::to_string(loc->segment) + " offset " +
                              std::to_string(loc->offset) + ": the index gives a block of " +
                              std::to_string(loc->total_size()) + " bytes");
  }
  return *loc;
}

Status ForEachStoredBlock(Volume* volume, const SnapshotEntry& snapshot, uint16_t stream,
                          const std::optional<ByteRange>& range, size_t read_window, const StoredBlockFn& fn) {
  EpochGate::Pass reading(volume->reads_gate());  // a segment retired meanwhile stays until this ends
  SegmentReader reader(volume->segment_files(), read_window);
  std::shared_ptr<io::File> file;  // the segment of the last block, open to splice
  uint64_t file_segment = 0;
  return WalkRecipe(volume, &reader, snapshot, stream, range, [&](const ChunkRef& c) -> Status {
    BV_ASSIGN_OR_RETURN(Location loc, LocateChunk(volume, snapshot, stream, c));
    if (file_segment != loc.segment) {
      auto f = reader.File(loc.segment, SegmentAccess::kCached);
      if (!f.ok() && f.status().IsCorruption()) {
        return Status::Corruption(StreamPlace(snapshot, stream, c.stream_offset) + ": " + f.status().message());
      }
      BV_ASSIGN_OR_RETURN(file, std::move(f));
      file_segment = loc.segment;
    }
    return fn(c, file.get(), loc);
  });
}

}  // namespace bv::engine
