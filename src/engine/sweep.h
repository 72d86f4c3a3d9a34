// The sweep half of compaction (format-spec §12 [CMP-3]..[CMP-5]): one chosen segment at a time,
// what the index says is still needed is copied forward, byte for byte, through the append lane;
// the index is pointed at the copies; the segment is retired, and once no read that began before
// can still be in it, its file goes.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/compact.h"
#include "engine/live_set.h"
#include "engine/segment_reader.h"
#include "engine/volume.h"

namespace bv::engine {

class Sweeper {
 public:
  // Data blocks are copied this many bytes at a time, each batch under the lane's lock once, so
  // pushes interleave with a compaction.
  static constexpr size_t kCopyBatchBytes = 1 << 20;

  Sweeper(Volume* v, const LiveSet& live, const CompactOptions& opts, CompactReport* report);
  Sweeper(const Sweeper&) = delete;
  Sweeper& operator=(const Sweeper&) = delete;

  // Whether the segment is gone: false when the compaction stopped first or left it (damage).
  // Only what the index says is still needed is read: a dead segment costs index lookups, not a
  // read of its bytes.
  Result<bool> Sweep(const SegmentUsage& seg);

 private:
  using Clock = std::chrono::steady_clock;
  struct HeldBlock {
    uint64_t offset;
    format::BlockHeader header;
    std::string payload;
  };

  Result<bool> Leave(const std::string& why);
  // The data blocks here whose chunk is live and placed here by the index, in offset order.
  Result<std::vector<std::pair<Location, format::Id>>> LiveDataHere();
  // The metadata blocks here that are still needed, in offset order: live recipe pieces, kept
  // snapshots' commits, and deletion records whose snapshot's commit is in another segment.
  Result<std::vector<std::pair<Location, format::BlockType>>> MetadataHere();
  // The block at `loc`, checked (header, body checksum, sizes, type); nullopt once the segment
  // is left for damage there.
  Result<std::optional<HeldBlock>> Read(const Location& loc, format::BlockType type);
  Result<AppendLane::Guard> Lane();
  Status Appended(AppendLane::Guard& lane, const HeldBlock& b, Location* at);
  // [CMP-3] Each held data block whose chunk the index still places here is copied, and the
  // index will place it at the copy from the next sync point on. A chunk a fenced put stored
  // again meanwhile is copied all the same; whichever entry comes last, both copies hold it.
  Status CopyData();
  // [CMP-4] Recipe pieces and commits of what is kept, and deletion records whose snapshot's
  // commit block is still in another segment, all under one hold of the lane and synced before
  // it is let go: a deletion after this sees the commit where the index now says it is.
  Status CopyMetadata();
  // [CMP-5] With every copy indexed, nothing the index keeps may point into the segment but
  // entries of what is dead; those go, and the segment is marked retired, in one synced batch.
  // A live entry still pointing here means the sweep missed a block: the segment stays.
  Status Retire();
  // Sleeps so that what was copied since the start stays under max_rate, looking every 100 ms
  // whether to stop.
  void Throttle(uint64_t bytes);

  Volume* v_;
  Index* index_;
  const LiveSet& live_;
  const CompactOptions& opts_;
  CompactReport* report_;
  SegmentReader reader_;  // its own window, read ahead in offset order
  const Clock::time_point started_;
  std::optional<uint64_t> generation_;  // the writer's, at the first append: a writer dropped since fails this
  uint64_t copied_total_ = 0;
  uint64_t seg_ = 0;
  std::vector<HeldBlock> data_;  // live data blocks held for the next copy batch
  size_t data_bytes_ = 0;
  std::vector<HeldBlock> meta_;  // the metadata blocks still needed: small, copied at the segment's end
  uint64_t copied_here_ = 0;
};

}  // namespace bv::engine
