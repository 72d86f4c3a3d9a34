// The blocks of a stream of a snapshot as a restore on the appliance finds them: the recipe
// walked, each chunk looked up in the index, its block read from its segment. The blocks of a
// batch are read with one request per run of neighbouring blocks of a segment, all submitted
// together, into the batch's buffer (one of the ring's registered buffers while one is free).
// Blocks found damaged are noted, for the restore to quarantine.
#pragma once

#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "engine/block_pipeline.h"
#include "engine/recipe_walk.h"
#include "engine/segment_reader.h"
#include "engine/volume.h"

namespace bv::engine {

class SegmentBlockSource final : public BlockSource {
 public:
  // `read_window`: segment bytes read ahead at a time for recipe pieces.
  SegmentBlockSource(Volume* v, const SnapshotEntry& snap, uint16_t stream, std::optional<ByteRange> range,
                     size_t read_window)
      : v_(v), snap_(snap), stream_(stream), range_(range), reader_(v->segment_files(), read_window) {}

  Status Gather(BlockPipeline* pipeline) override;
  // "snapshot <id> stream <n> at byte <offset>: segment <s> offset <o>"
  std::string Place(const BlockItem& item) const override;
  std::string SizeAuthority() const override { return "the index"; }
  void Damaged(const BlockItem& item) const override { NoteDamaged(item); }

  // Chunks whose blocks were found damaged, and where.
  std::vector<std::pair<format::Id, Location>> damaged() const {
    std::lock_guard lock(damaged_mu_);
    return damaged_;
  }

 private:
  // One read request: consecutive blocks of one segment, aligned.
  struct Extent {
    uint64_t segment;
    uint64_t start, end;  // aligned file offsets
    uint64_t needed_end;  // the end of the last block in it
    size_t at;            // in the batch's buffer
  };

  Result<BlockItem> Locate(const ChunkRef& c) const;
  Status AddChunk(const ChunkRef& c);
  bool AddToCurrent(BlockItem item, uint64_t start, uint64_t end);
  Status Submit();
  Status Read(BlockBatch* b);
  Result<std::shared_ptr<io::File>> SegmentFile(uint64_t segment);
  void NoteDamaged(const BlockItem& item) const;

  Volume* v_;
  const SnapshotEntry& snap_;
  const uint16_t stream_;
  const std::optional<ByteRange> range_;
  // Its own reader (recipe pieces, open files), so restores can run side by side.
  SegmentReader reader_;
  BlockPipeline* pipeline_ = nullptr;
  std::shared_ptr<BlockBatch> current_;  // being filled
  std::vector<Extent> extents_;          // current_'s reads
  mutable std::mutex damaged_mu_;
  mutable std::vector<std::pair<format::Id, Location>> damaged_;
};

}  // namespace bv::engine
