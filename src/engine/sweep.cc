#include "engine/sweep.h"

#include <algorithm>
#include <thread>

#include "engine/chunk_id.h"
#include "format/recipe_format.h"
#include "format/snapshot_format.h"

namespace bv::engine {

namespace {

// The block's bytes as they are in its segment: the header decoded from there encodes to the
// same 96 bytes (every field is checked, reserved ones are zero), then the payload untouched.
std::string BlockBytes(const format::BlockHeader& h, const std::string& payload) {
  std::string out(format::kBlockHeaderSize, '\0');
  format::EncodeBlockHeader(h, out.data());
  out += payload;
  return out;
}

bool Stop(const CompactOptions& opts) { return opts.should_stop && opts.should_stop(); }

}  // namespace

Sweeper::Sweeper(Volume* v, const LiveSet& live, const CompactOptions& opts, CompactReport* report)
    : v_(v),
      index_(v->index()),
      live_(live),
      opts_(opts),
      report_(report),
      reader_(v->segment_files(), kCopyBatchBytes),
      started_(Clock::now()) {}

Result<bool> Sweeper::Sweep(const SegmentUsage& seg) {
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

Result<bool> Sweeper::Leave(const std::string& why) {
  report_->notes.push_back(SegmentFiles::Name(seg_) + " left as it is: " + why);
  return false;
}

Result<std::vector<std::pair<Location, format::Id>>> Sweeper::LiveDataHere() {
  std::vector<std::pair<Location, format::Id>> out;
  BV_RETURN_IF_ERROR(index_->ForEachChunkAt(seg_, 0, UINT64_MAX, [&](uint64_t offset, const format::Id& id) -> Status {
    if (!live_.MayContain(id)) return Status::Ok();
    BV_ASSIGN_OR_RETURN(auto now, index_->GetChunk(id));
    if (now && now->segment == seg_ && now->offset == offset) out.emplace_back(*now, id);
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<std::pair<Location, format::BlockType>>> Sweeper::MetadataHere() {
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

Result<std::optional<Sweeper::HeldBlock>> Sweeper::Read(const Location& loc, format::BlockType type) {
  format::BlockHeader h;
  std::string_view payload;
  const std::string at = "offset " + std::to_string(loc.offset) + ": ";
  if (Status s = reader_.ReadBlock(loc, &h, &payload); !s.ok()) {
    BV_RETURN_IF_ERROR(Leave(at + s.message() + "; `bvtool fsck --repair` quarantines a damaged chunk, after which "
                                                 "the segment can go").status());
    return std::optional<HeldBlock>();
  }
  if (h.type != type) {
    BV_RETURN_IF_ERROR(Leave(at + "a " + format::BlockTypeName(h.type) + " block where the index has a " +
                             format::BlockTypeName(type) + " block").status());
    return std::optional<HeldBlock>();
  }
  return std::optional<HeldBlock>(HeldBlock{loc.offset, h, std::string(payload)});
}

Result<AppendLane::Guard> Sweeper::Lane() {
  auto lane = v_->lane()->Lock(generation_);
  if (lane.ok() && !generation_) generation_ = lane->generation();
  return lane;
}

Status Sweeper::Appended(AppendLane::Guard& lane, const HeldBlock& b, Location* at) {
  const std::string bytes = BlockBytes(b.header, b.payload);
  BV_ASSIGN_OR_RETURN(*at, lane.Append(bytes));
  report_->blocks_copied++;
  report_->bytes_copied += bytes.size();
  copied_here_ += bytes.size();
  return Status::Ok();
}

Status Sweeper::CopyData() {
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

Status Sweeper::CopyMetadata() {
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

Status Sweeper::Retire() {
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

void Sweeper::Throttle(uint64_t bytes) {
  copied_total_ += bytes;
  if (opts_.max_rate == 0) return;
  const auto due = std::chrono::time_point_cast<Clock::duration>(
      started_ + std::chrono::duration<double>(static_cast<double>(copied_total_) / static_cast<double>(opts_.max_rate)));
  while (Clock::now() < due && !Stop(opts_)) {
    std::this_thread::sleep_until(std::min(due, Clock::now() + std::chrono::milliseconds(100)));
  }
}

}  // namespace bv::engine
