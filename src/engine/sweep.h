// The sweep half of compaction (format-spec §12 [CMP-3]..[CMP-5]): a group of chosen segments at a
// time, ascending; out of each, what the index says is still needed is copied forward, byte for
// byte, through the append lane, and the index is pointed at the copies; then the whole group is
// retired in one synced batch and, once no read that began before can still be in them, their
// files go together.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
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
  // Chunk ids looked up in the index at once.
  static constexpr size_t kLookupBatch = 4096;
  // A group ends before the segment that would take its live bytes over this (a group has at
  // least one segment) or its count over the next: the old files of a group go only after all
  // of it is copied, so this bounds the extra disk a run takes at a time.
  static constexpr uint64_t kGroupLiveBytesMax = 64ull << 20;
  static constexpr size_t kGroupSegmentsMax = 256;
  // Retiring segments that hold at least 1/kScanShare of the volume's bytes, reading all of
  // `chunks` in order costs less than a random lookup per chunk in them (measured: a lookup
  // about 3 µs, an entry read in order about 0.3 µs).
  static constexpr uint64_t kScanShare = 10;

  // Splits the chosen segments (ascending) into groups, in order.
  static std::vector<std::vector<SegmentUsage>> Groups(const std::vector<SegmentUsage>& chosen);

  Sweeper(Volume* v, const LiveSet& live, const CompactOptions& opts, CompactReport* report);
  Sweeper(const Sweeper&) = delete;
  Sweeper& operator=(const Sweeper&) = delete;

  // The segments of the group (ascending) that are gone; one left for damage, or not reached or
  // not removed because the compaction stopped, is not among them. Only what the index says is
  // still needed is read: a dead segment costs index lookups, not a read of its bytes.
  Result<std::vector<uint64_t>> Sweep(const std::vector<SegmentUsage>& group);

 private:
  using Clock = std::chrono::steady_clock;
  struct HeldBlock {
    uint64_t offset;
    format::BlockHeader header;
    std::string payload;
  };

  using MetadataList = std::vector<std::pair<Location, format::BlockType>>;

  // Copies out of segment seg_ all it holds that is still needed; false when it stopped first or
  // left the segment (damage).
  Result<bool> CopyOut(const MetadataList& meta);
  Result<bool> Leave(const std::string& why);
  bool InGroup(uint64_t segment) const { return std::binary_search(group_.begin(), group_.end(), segment); }
  // Whether recipe pieces of `snapshot` are live, asked of the index once per run of keys.
  Result<bool> SnapshotLive(uint64_t snapshot);
  // The chunks whose index entry places them in `segment`, in offset order (the locations column
  // may still name a chunk that moved since); `want` says which ids are looked up at all.
  Status ForEachChunkIn(uint64_t segment, const std::function<bool(const format::Id&)>& want,
                        const std::function<Status(const Location&, const format::Id&)>& fn);
  // The data blocks here whose chunk is live and placed here by the index, in offset order.
  Result<std::vector<std::pair<Location, format::Id>>> LiveDataHere();
  // The metadata blocks in the group's segments that are still needed, by segment, each in offset
  // order: live recipe pieces, kept snapshots' commits, and deletion records whose snapshot's
  // commit is outside the group. One pass over those (small) column families per group.
  Result<std::map<uint64_t, MetadataList>> MetadataInGroup();
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
  // [CMP-5] With every copy indexed, nothing the index keeps may point into the segments but
  // entries of what is dead; those go, and the segments are marked retired, in one synced batch.
  // A live entry still pointing into one means the sweep missed a block: they all stay.
  // scan_chunks: the `chunks` entries pointing there are found by reading the whole family in
  // order, not by a lookup per entry that `locations` lists there.
  Status Retire(const std::vector<uint64_t>& segments, bool scan_chunks);
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
  std::vector<uint64_t> group_;  // the group being swept, ascending
  uint64_t seg_ = 0;              // the segment being copied out of
  std::optional<std::pair<uint64_t, bool>> snapshot_live_;  // SnapshotLive's last answer
  std::vector<HeldBlock> data_;  // live data blocks held for the next copy batch
  size_t data_bytes_ = 0;
  std::vector<HeldBlock> meta_;  // the metadata blocks still needed: small, copied at the segment's end
  uint64_t copied_here_ = 0;
};

}  // namespace bv::engine
