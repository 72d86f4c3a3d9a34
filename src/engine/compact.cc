#include "engine/compact.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "engine/chunk_id.h"
#include "engine/segment_reader.h"
#include "format/recipe_format.h"
#include "format/snapshot_format.h"

namespace bv::engine {

namespace {

// Data blocks are copied this many bytes at a time, each batch under the lane's lock once, so
// pushes interleave with a compaction.
constexpr size_t kCopyBatchBytes = 1 << 20;

using Clock = std::chrono::steady_clock;

struct HeldBlock {
  uint64_t offset;
  format::BlockHeader header;
  std::string payload;
};

// The block's bytes as they are in its segment: the header decoded from there encodes to the
// same 96 bytes (every field is checked, reserved ones are zero), then the payload untouched.
std::string BlockBytes(const HeldBlock& b) {
  std::string out(format::kBlockHeaderSize, '\0');
  format::EncodeBlockHeader(b.header, out.data());
  out += b.payload;
  return out;
}

bool Stop(const CompactOptions& opts) { return opts.should_stop && opts.should_stop(); }

// Moves out of one segment what is still needed, then retires and removes it [CMP-3..CMP-5].
class Sweeper {
 public:
  Sweeper(Volume* v, const LiveSet& live, const CompactOptions& opts, CompactReport* report)
      : v_(v),
        index_(v->index()),
        live_(live),
        opts_(opts),
        report_(report),
        reader_(v->segment_files(), kCopyBatchBytes),
        started_(Clock::now()) {}

  // Whether the segment is gone: false when the compaction stopped first or left it (damage).
  // Only what the index says is still needed is read: a dead segment costs index lookups, not a
  // read of its bytes.
  Result<bool> Sweep(const SegmentUsage& seg) {
    seg_ = seg.segment;
    data_.clear();
    meta_.clear();
    data_bytes_ = 0;
    copied_here_ = 0;
    BV_ASSIGN_OR_RETURN(auto live_data, LiveDataHere());
    for (const auto& [loc, id] : live_data) {
      BV_ASSIGN_OR_RETURN(std::optional<HeldBlock> b, Read(loc, format::BlockType::kData));
      if (!b) return false;
      if (b->header.id != id) return Leave("offset " + std::to_string(loc.offset) + " holds another chunk than the index says");
      data_bytes_ += b->header.total_size();
      data_.push_back(std::move(*b));
      if (data_bytes_ >= kCopyBatchBytes) {
        BV_RETURN_IF_ERROR(CopyData());
        if (Stop(opts_)) return false;
      }
    }
    BV_RETURN_IF_ERROR(CopyData());
    BV_ASSIGN_OR_RETURN(auto meta, MetadataHere());
    for (const auto& [loc, type] : meta) {
      BV_ASSIGN_OR_RETURN(std::optional<HeldBlock> b, Read(loc, type));
      if (!b) return false;
      meta_.push_back(std::move(*b));
    }
    BV_RETURN_IF_ERROR(CopyMetadata());
    BV_RETURN_IF_ERROR(Retire());
    // [CMP-5] Reads that began before the index stopped pointing here may still read the file.
    const uint64_t epoch = v_->reads_gate()->Advance();
    if (!v_->reads_gate()->WaitFor(epoch, opts_.should_stop)) return false;  // removed by the next open or compaction
    BV_RETURN_IF_ERROR(v_->RemoveRetired(seg_));
    report_->segments_removed++;
    report_->bytes_freed += seg.file_bytes > copied_here_ ? seg.file_bytes - copied_here_ : 0;
    return true;
  }

 private:
  Result<bool> Leave(const std::string& why) {
    report_->notes.push_back(SegmentFiles::Name(seg_) + " left as it is: " + why);
    return false;
  }

  // The data blocks here whose chunk is live and placed here by the index, in offset order.
  Result<std::vector<std::pair<Location, format::Id>>> LiveDataHere() {
    std::vector<std::pair<Location, format::Id>> out;
    BV_RETURN_IF_ERROR(index_->ForEachChunkAt(seg_, 0, UINT64_MAX, [&](uint64_t offset, const format::Id& id) -> Status {
      if (!live_.MayContain(id)) return Status::Ok();
      BV_ASSIGN_OR_RETURN(auto now, index_->GetChunk(id));
      if (now && now->segment == seg_ && now->offset == offset) out.emplace_back(*now, id);
      return Status::Ok();
    }));
    return out;
  }

  // The metadata blocks here that are still needed, in offset order: live recipe pieces, kept
  // snapshots' commits, and deletion records whose snapshot's commit is in another segment.
  Result<std::vector<std::pair<Location, format::BlockType>>> MetadataHere() {
    std::vector<std::pair<Location, format::BlockType>> out;
    BV_RETURN_IF_ERROR(index_->ForEachRecipeKey([&](uint64_t snapshot, uint16_t, uint32_t, const Location& loc) -> Status {
      if (loc.segment != seg_) return Status::Ok();
      BV_ASSIGN_OR_RETURN(bool live, RecipesLive(index_, snapshot));
      if (live) out.emplace_back(loc, format::BlockType::kRecipe);
      return Status::Ok();
    }));
    BV_RETURN_IF_ERROR(index_->ForEachSnapshot("", [&](const SnapshotEntry& e) {
      if (e.commit.segment == seg_) out.emplace_back(e.commit, format::BlockType::kSnapshotCommit);
      return true;
    }));
    BV_RETURN_IF_ERROR(index_->ForEachTombstone([&](uint64_t, const format::Tombstone& t) -> Status {
      if (t.deletion.segment == seg_ && t.commit.segment != seg_) {
        out.emplace_back(t.deletion, format::BlockType::kSnapshotDeletion);
      }
      return Status::Ok();
    }));
    std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.first.offset < y.first.offset; });
    return out;
  }

  // The block at `loc`, checked (header, body checksum, sizes, type); nullopt once the segment
  // is left for damage there.
  Result<std::optional<HeldBlock>> Read(const Location& loc, format::BlockType type) {
    format::BlockHeader h;
    std::string_view payload;
    const std::string at = "offset " + std::to_string(loc.offset) + ": ";
    if (Status s = reader_.ReadBlock(loc, &h, &payload); !s.ok()) {
      BV_RETURN_IF_ERROR(Leave(at + s.message() + "; run `bvtool fsck`").status());
      return std::optional<HeldBlock>();
    }
    if (h.type != type) {
      BV_RETURN_IF_ERROR(Leave(at + "a " + format::BlockTypeName(h.type) + " block where the index has a " +
                               format::BlockTypeName(type) + " block").status());
      return std::optional<HeldBlock>();
    }
    return std::optional<HeldBlock>(HeldBlock{loc.offset, h, std::string(payload)});
  }

  Result<AppendLane::Guard> Lane() {
    auto lane = v_->lane()->Lock(generation_);
    if (lane.ok() && !generation_) generation_ = lane->generation();
    return lane;
  }

  Status Appended(AppendLane::Guard& lane, const HeldBlock& b, Location* at) {
    const std::string bytes = BlockBytes(b);
    BV_ASSIGN_OR_RETURN(*at, lane.Append(bytes));
    report_->blocks_copied++;
    report_->bytes_copied += bytes.size();
    copied_here_ += bytes.size();
    return Status::Ok();
  }

  // [CMP-3] Each held data block whose chunk the index still places here is copied, and the
  // index will place it at the copy from the next sync point on. A chunk a fenced put stored
  // again meanwhile is copied all the same; whichever entry comes last, both copies hold it.
  Status CopyData() {
    if (data_.empty()) return Status::Ok();
    uint64_t bytes = 0;
    {
      BV_ASSIGN_OR_RETURN(AppendLane::Guard lane, Lane());
      for (const HeldBlock& b : data_) {
        BV_ASSIGN_OR_RETURN(auto now, index_->GetChunk(b.header.id));
        if (!now || now->segment != seg_ || now->offset != b.offset) continue;  // a superseded copy
        Location to;
        BV_RETURN_IF_ERROR(Appended(lane, b, &to));
        lane.pending()->PutChunk(b.header.id, to);
        bytes += to.total_size();
      }
    }
    data_.clear();
    data_bytes_ = 0;
    Throttle(bytes);
    return Status::Ok();
  }

  // [CMP-4] Recipe pieces and commits of what is kept, and deletion records whose snapshot's
  // commit block is still in another segment, all under one hold of the lane and synced before
  // it is let go: a deletion after this sees the commit where the index now says it is.
  Status CopyMetadata() {
    BV_ASSIGN_OR_RETURN(AppendLane::Guard lane, Lane());
    for (const HeldBlock& b : meta_) {
      const uint64_t snapshot = format::SnapshotIdFromBlockId(b.header.id);
      const Location here{seg_, b.offset, b.header.stored_len, b.header.raw_len};
      Location to;
      switch (b.header.type) {
        case format::BlockType::kRecipe: {
          BV_ASSIGN_OR_RETURN(format::RecipePiece r, format::DecodeRecipe(b.payload));
          BV_ASSIGN_OR_RETURN(auto now, index_->GetRecipe(snapshot, r.stream_index, r.piece_index));
          if (!now || now->location != here) break;
          BV_ASSIGN_OR_RETURN(bool live, RecipesLive(index_, snapshot));
          if (!live) break;
          BV_RETURN_IF_ERROR(Appended(lane, b, &to));
          lane.pending()->PutRecipe(snapshot, r.stream_index, r.piece_index, now->stream_offset, to);
          break;
        }
        case format::BlockType::kSnapshotCommit: {
          BV_ASSIGN_OR_RETURN(auto now, index_->GetSnapshot(snapshot));
          if (!now || now->commit != here) break;
          BV_RETURN_IF_ERROR(Appended(lane, b, &to));
          lane.pending()->PutSnapshot(SnapshotEntry{now->record, to});
          break;
        }
        case format::BlockType::kSnapshotDeletion: {
          BV_ASSIGN_OR_RETURN(format::DeletionRecord d, format::DecodeDeletion(b.payload));
          BV_ASSIGN_OR_RETURN(auto tomb, index_->GetTombstone(d.snapshot_id));
          if (!tomb || tomb->deletion != here || tomb->commit.segment == seg_) break;
          BV_RETURN_IF_ERROR(Appended(lane, b, &to));
          lane.pending()->PutTombstone(d.snapshot_id, format::Tombstone{tomb->commit, to});
          report_->deletions_carried++;
          break;
        }
        default:
          BV_ASSERT(false);  // only metadata is held here
      }
    }
    return lane.SyncPoint(/*durable=*/true);
  }

  // [CMP-5] With every copy indexed, nothing the index keeps may point into the segment but
  // entries of what is dead; those go, and the segment is marked retired, in one synced batch.
  // A live entry still pointing here means the sweep missed a block: the segment stays.
  Status Retire() {
    BV_ASSIGN_OR_RETURN(AppendLane::Guard lane, Lane());
    BV_RETURN_IF_ERROR(lane.SyncPoint(/*durable=*/true));
    IndexBatch batch = index_->NewBatch();
    const std::string where = SegmentFiles::Name(seg_);
    BV_RETURN_IF_ERROR(index_->ForEachChunkAt(seg_, 0, UINT64_MAX, [&](uint64_t offset, const format::Id& id) -> Status {
      BV_ASSIGN_OR_RETURN(auto now, index_->GetChunk(id));
      if (!now || now->segment != seg_) return Status::Ok();
      if (live_.MayContain(id)) {
        return Status::Corruption(where + " offset " + std::to_string(offset) + ": live chunk " + ChunkIdHex(id) +
                                  " was not copied; the segment is kept");
      }
      batch.DeleteChunk(id, *now);
      return Status::Ok();
    }));
    BV_RETURN_IF_ERROR(index_->ForEachQuarantined([&](const format::Id& id, const Location& loc) -> Status {
      if (loc.segment == seg_) batch.DeleteQuarantined(id);
      return Status::Ok();
    }));
    BV_RETURN_IF_ERROR(index_->ForEachRecipeKey(
        [&](uint64_t snapshot, uint16_t stream, uint32_t piece, const Location& loc) -> Status {
          if (loc.segment != seg_) return Status::Ok();
          BV_ASSIGN_OR_RETURN(bool live, RecipesLive(index_, snapshot));
          if (live) {
            return Status::Corruption(where + " offset " + std::to_string(loc.offset) + ": recipe piece " +
                                      std::to_string(piece) + " of snapshot " + format::SnapshotIdHex(snapshot) +
                                      " was not copied; the segment is kept");
          }
          batch.DeleteRecipe(snapshot, stream, piece);
          return Status::Ok();
        }));
    Status kept;
    BV_RETURN_IF_ERROR(index_->ForEachSnapshot("", [&](const SnapshotEntry& e) {
      if (e.commit.segment == seg_) {
        kept = Status::Corruption(where + ": the commit of snapshot " + format::SnapshotIdHex(e.record.id) +
                                  " was not copied; the segment is kept");
        return false;
      }
      return true;
    }));
    BV_RETURN_IF_ERROR(kept);
    BV_RETURN_IF_ERROR(index_->ForEachTombstone([&](uint64_t id, const format::Tombstone& t) -> Status {
      if (t.commit.segment == seg_) {
        batch.DeleteTombstone(id);
      } else if (t.deletion.segment == seg_) {
        return Status::Corruption(where + ": the deletion record of snapshot " + format::SnapshotIdHex(id) +
                                  " was not copied; the segment is kept");
      }
      return Status::Ok();
    }));
    BV_ASSIGN_OR_RETURN(auto state, index_->GetSegment(seg_));
    BV_ASSERT(state && state->sealed);  // only sealed segments are chosen, and they stay sealed
    state->retired = true;
    batch.PutSegment(seg_, *state);
    return index_->Write(&batch, /*sync=*/true);
  }

  // Sleeps so that what was copied since the start stays under max_rate, looking every 100 ms
  // whether to stop.
  void Throttle(uint64_t bytes) {
    copied_total_ += bytes;
    if (opts_.max_rate == 0) return;
    const auto due = std::chrono::time_point_cast<Clock::duration>(
        started_ + std::chrono::duration<double>(static_cast<double>(copied_total_) / static_cast<double>(opts_.max_rate)));
    while (Clock::now() < due && !Stop(opts_)) {
      std::this_thread::sleep_until(std::min(due, Clock::now() + std::chrono::milliseconds(100)));
    }
  }

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

// Lifts the fence however the compaction ends.
class FenceHold {
 public:
  FenceHold(Volume* v, const std::vector<uint64_t>& segments) : v_(v) { v_->Fence(segments); }
  ~FenceHold() { v_->Fence({}); }
  FenceHold(const FenceHold&) = delete;
  FenceHold& operator=(const FenceHold&) = delete;

 private:
  Volume* v_;
};

// Counts as a put in the lane while it copies: a put that fails alone then leaves the tail,
// with the copies in it, to the next sync point instead of cutting it.
class LaneUse {
 public:
  explicit LaneUse(AppendLane* lane) : lane_(lane) { lane_->BeginPut(); }
  ~LaneUse() { lane_->EndPut(); }
  LaneUse(const LaneUse&) = delete;
  LaneUse& operator=(const LaneUse&) = delete;

 private:
  AppendLane* lane_;
};

void Plan(const MarkResult& mark, const CompactOptions& opts, uint64_t segment_size, CompactReport* r) {
  r->segments = mark.segments;
  r->references = mark.references;
  r->mark_memory_bytes = mark.live->memory_bytes();
  r->chosen.clear();
  r->disk_bytes = r->live_bytes = r->reclaimable_bytes = 0;
  for (size_t i = 0; i < mark.segments.size(); i++) {
    const SegmentUsage& u = mark.segments[i];
    r->disk_bytes += u.file_bytes;
    r->live_bytes += std::min(u.live_bytes, u.file_bytes);
    const bool last = i + 1 == mark.segments.size();
    if ((u.sealed || (last && u.file_bytes >= segment_size / 4)) && u.live_fraction() < opts.threshold) {
      r->chosen.push_back(u);
      r->reclaimable_bytes += u.file_bytes - std::min(u.live_bytes, u.file_bytes);
    }
  }
}

// Files of segments retired by a compaction that stopped before it could remove them [CMP-5].
// Returns false when it stopped first.
Result<bool> RemoveLeftRetired(Volume* v, const CompactOptions& opts) {
  BV_ASSIGN_OR_RETURN(std::vector<uint64_t> files, v->segment_files()->List());
  std::vector<uint64_t> left;
  for (uint64_t n : files) {
    BV_ASSIGN_OR_RETURN(auto state, v->index()->GetSegment(n));
    if (state && state->retired) left.push_back(n);
  }
  if (left.empty()) return true;
  if (!v->reads_gate()->WaitFor(v->reads_gate()->Advance(), opts.should_stop)) return false;
  for (uint64_t n : left) BV_RETURN_IF_ERROR(v->RemoveRetired(n));
  return true;
}

// [CMP-1] The segment being written, when chosen, is sealed first; one that is not the writer's
// any more (another writer took over since the mark) is left for the next run.
Status SealChosen(Volume* v, CompactReport* r) {
  if (r->chosen.empty() || r->chosen.back().sealed) return Status::Ok();
  BV_ASSIGN_OR_RETURN(AppendLane::Guard lane, v->lane()->Lock());
  BV_ASSIGN_OR_RETURN(bool sealed, lane.Seal(r->chosen.back().segment));
  if (!sealed) {
    r->reclaimable_bytes -= r->chosen.back().file_bytes - std::min(r->chosen.back().live_bytes, r->chosen.back().file_bytes);
    r->chosen.pop_back();
    return Status::Ok();
  }
  r->chosen.back().sealed = true;
  return Status::Ok();
}

}  // namespace

Status CheckCompactOptions(const CompactOptions& opts) {
  if (!(opts.threshold > 0 && opts.threshold <= 1)) {
    return Status::InvalidArgument("the threshold must be above 0% and at most 100%");
  }
  return Status::Ok();
}

Result<CompactReport> Compact(Volume* volume, const CompactOptions& opts) {
  BV_RETURN_IF_ERROR(CheckCompactOptions(opts));
  CompactReport report;
  if (opts.dry_run) {  // only reads: beside a running compaction too
    BV_ASSIGN_OR_RETURN(MarkResult planned, Mark(volume));
    Plan(planned, opts, volume->params().segment_size, &report);
    return report;
  }
  std::unique_lock hold(*volume->compact_mutex(), std::try_to_lock);
  if (!hold.owns_lock()) return Status::Busy("a compaction of this volume is running already");
  {
    BV_RETURN_IF_ERROR(volume->lane()->Lock().status());  // a volume opened to read fails here
    BV_ASSIGN_OR_RETURN(bool tombstones_complete, volume->index()->TombstonesComplete());
    if (!tombstones_complete) {
      return Status::InvalidArgument(
          "the index of " + volume->dir() + " predates tombstones, so it cannot tell which deletion records "
          "are still needed: run `bvtool fsck --rebuild-index` on it once, then compact");
    }
    BV_ASSIGN_OR_RETURN(bool done, RemoveLeftRetired(volume, opts));
    if (!done) {
      report.stopped = true;
      return report;
    }
  }
  BV_ASSIGN_OR_RETURN(MarkResult planned, Mark(volume));
  Plan(planned, opts, volume->params().segment_size, &report);
  if (report.chosen.empty()) return report;
  BV_RETURN_IF_ERROR(SealChosen(volume, &report));
  if (report.chosen.empty()) return report;
  std::vector<uint64_t> chosen;
  for (const SegmentUsage& u : report.chosen) chosen.push_back(u.segment);
  // [CMP-2] From here on no put deduplicates against a chunk in a chosen segment; the puts that
  // began before may have, and their references reach the index when they end: wait for them,
  // then mark again. That second mark is the one that decides.
  FenceHold fence(volume, chosen);
  if (!volume->puts_gate()->WaitFor(volume->puts_gate()->Advance(), opts.should_stop)) {
    report.stopped = true;
    return report;
  }
  BV_ASSIGN_OR_RETURN(MarkResult mark, Mark(volume));
  LaneUse use(volume->lane());
  Sweeper sweeper(volume, *mark.live, opts, &report);
  for (const SegmentUsage& planned_seg : report.chosen) {
    if (Stop(opts)) {
      report.stopped = true;
      break;
    }
    SegmentUsage seg = planned_seg;
    for (const SegmentUsage& u : mark.segments) {
      if (u.segment == seg.segment) seg = u;
    }
    BV_ASSIGN_OR_RETURN(bool removed, sweeper.Sweep(seg));
    if (!removed && Stop(opts)) report.stopped = true;
    if (opts.on_segment) opts.on_segment(seg, removed);
    if (report.stopped) break;
  }
  return report;
}

}  // namespace bv::engine
