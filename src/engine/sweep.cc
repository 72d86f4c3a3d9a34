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

std::vector<std::vector<SegmentUsage>> Sweeper::Groups(const std::vector<SegmentUsage>& chosen) {
  std::vector<std::vector<SegmentUsage>> out;
  uint64_t live = 0;
  for (const SegmentUsage& u : chosen) {
    const uint64_t bytes = std::min(u.live_bytes, u.file_bytes);
    if (out.empty() || out.back().size() == kGroupSegmentsMax || live + bytes > kGroupLiveBytesMax) {
      out.emplace_back();
      live = 0;
    }
    out.back().push_back(u);
    live += bytes;
  }
  return out;
}

Result<std::vector<uint64_t>> Sweeper::Sweep(const std::vector<SegmentUsage>& group) {
  group_.clear();
  for (const SegmentUsage& u : group) group_.push_back(u.segment);
  BV_ASSERT(std::is_sorted(group_.begin(), group_.end()));
  BV_ASSIGN_OR_RETURN(auto meta, MetadataInGroup());
  std::vector<uint64_t> taken;
  std::map<uint64_t, uint64_t> copied;
  for (const SegmentUsage& u : group) {
    if (Stop(opts_)) break;
    seg_ = u.segment;
    copied_here_ = 0;
    BV_ASSIGN_OR_RETURN(bool out, CopyOut(meta[seg_]));
    if (!out) continue;
    taken.push_back(seg_);
    copied[seg_] = copied_here_;
  }
  if (taken.empty()) return taken;
  uint64_t taken_bytes = 0;
  for (const SegmentUsage& u : group) {
    if (std::find(taken.begin(), taken.end(), u.segment) != taken.end()) taken_bytes += u.file_bytes;
  }
  BV_RETURN_IF_ERROR(Retire(taken, taken_bytes * kScanShare >= report_->disk_bytes));
  // [CMP-5] Reads that began before the index stopped pointing there may still read the files.
  const uint64_t epoch = v_->reads_gate()->Advance();
  if (!v_->reads_gate()->WaitFor(epoch, opts_.should_stop)) return std::vector<uint64_t>();  // the next run removes them
  BV_RETURN_IF_ERROR(v_->RemoveRetired(taken));
  for (const SegmentUsage& u : group) {
    if (std::find(taken.begin(), taken.end(), u.segment) == taken.end()) continue;
    report_->segments_removed++;
    report_->bytes_freed += u.file_bytes > copied[u.segment] ? u.file_bytes - copied[u.segment] : 0;
  }
  return taken;
}

Result<bool> Sweeper::CopyOut(const MetadataList& meta) {
  data_.clear();
  meta_.clear();
  data_bytes_ = 0;
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
  for (const auto& [loc, type] : meta) {
    BV_ASSIGN_OR_RETURN(std::optional<HeldBlock> b, Read(loc, type));
    if (!b) return false;
    meta_.push_back(std::move(*b));
  }
  BV_RETURN_IF_ERROR(CopyMetadata());
  return true;
}

Result<bool> Sweeper::SnapshotLive(uint64_t snapshot) {
  if (!snapshot_live_ || snapshot_live_->first != snapshot) {
    BV_ASSIGN_OR_RETURN(bool live, RecipesLive(index_, snapshot));
    snapshot_live_ = std::make_pair(snapshot, live);
  }
  return snapshot_live_->second;
}

Result<bool> Sweeper::Leave(const std::string& why) {
  report_->notes.push_back(SegmentFiles::Name(seg_) + " left as it is: " + why);
  return false;
}

Status Sweeper::ForEachChunkIn(uint64_t segment, const std::function<bool(const format::Id&)>& want,
                               const std::function<Status(const Location&, const format::Id&)>& fn) {
  std::vector<std::pair<uint64_t, format::Id>> listed;
  std::vector<format::Id> ids;
  auto resolve = [&]() -> Status {
    ids.clear();
    for (const auto& l : listed) ids.push_back(l.second);
    BV_ASSIGN_OR_RETURN(auto now, index_->GetChunks(ids));
    for (size_t i = 0; i < listed.size(); i++) {
      if (now[i] && now[i]->segment == segment && now[i]->offset == listed[i].first) {
        BV_RETURN_IF_ERROR(fn(*now[i], listed[i].second));
      }
    }
    listed.clear();
    return Status::Ok();
  };
  BV_RETURN_IF_ERROR(index_->ForEachChunkAt(segment, 0, UINT64_MAX, [&](uint64_t offset, const format::Id& id) -> Status {
    if (!want(id)) return Status::Ok();
    listed.emplace_back(offset, id);
    return listed.size() >= kLookupBatch ? resolve() : Status::Ok();
  }));
  return resolve();
}

Result<std::vector<std::pair<Location, format::Id>>> Sweeper::LiveDataHere() {
  std::vector<std::pair<Location, format::Id>> out;
  BV_RETURN_IF_ERROR(ForEachChunkIn(seg_, [&](const format::Id& id) { return live_.MayContain(id); },
                                    [&](const Location& loc, const format::Id& id) {
                                      out.emplace_back(loc, id);
                                      return Status::Ok();
                                    }));
  return out;
}

Result<std::map<uint64_t, Sweeper::MetadataList>> Sweeper::MetadataInGroup() {
  std::map<uint64_t, MetadataList> out;
  snapshot_live_.reset();
  BV_RETURN_IF_ERROR(index_->ForEachRecipeKey([&](uint64_t snapshot, uint16_t, uint32_t, const Location& loc) -> Status {
    if (!InGroup(loc.segment)) return Status::Ok();
    BV_ASSIGN_OR_RETURN(bool live, SnapshotLive(snapshot));
    if (live) out[loc.segment].emplace_back(loc, format::BlockType::kRecipe);
    return Status::Ok();
  }));
  BV_RETURN_IF_ERROR(index_->ForEachSnapshot("", [&](const SnapshotEntry& e) {
    if (InGroup(e.commit.segment)) out[e.commit.segment].emplace_back(e.commit, format::BlockType::kSnapshotCommit);
    return true;
  }));
  BV_RETURN_IF_ERROR(index_->ForEachTombstone([&](uint64_t, const format::Tombstone& t) -> Status {
    // Carried unless its commit is in the same file: a commit elsewhere in the group may stay
    // (damage there), and files of a group go in any order, so a deletion record never hangs on
    // another file of the group going with it.
    if (InGroup(t.deletion.segment) && t.commit.segment != t.deletion.segment) {
      out[t.deletion.segment].emplace_back(t.deletion, format::BlockType::kSnapshotDeletion);
    }
    return Status::Ok();
  }));
  for (auto& [segment, list] : out) {
    std::sort(list.begin(), list.end(), [](const auto& x, const auto& y) { return x.first.offset < y.first.offset; });
  }
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
  if (meta_.empty()) return Status::Ok();
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

Status Sweeper::Retire(const std::vector<uint64_t>& segments, bool scan_chunks) {
  BV_ASSIGN_OR_RETURN(AppendLane::Guard lane, Lane());
  BV_RETURN_IF_ERROR(lane.SyncPoint(/*durable=*/true));
  auto retiring = [&](uint64_t segment) { return std::binary_search(segments.begin(), segments.end(), segment); };
  auto kept = [](const Location& loc, const std::string& what) {
    return Status::Corruption(SegmentFiles::Name(loc.segment) + " offset " + std::to_string(loc.offset) + ": " + what +
                              " was not copied; the segments are kept");
  };
  IndexBatch batch = index_->NewBatch();
  auto drop = [&](const Location& loc, const format::Id& id) -> Status {
    if (live_.MayContain(id)) return kept(loc, "live chunk " + ChunkIdHex(id));
    batch.DeleteChunk(id);
    return Status::Ok();
  };
  if (scan_chunks) {
    BV_RETURN_IF_ERROR(index_->ForEachChunk([&](const format::Id& id, const Location& loc) -> Status {
      return retiring(loc.segment) ? drop(loc, id) : Status::Ok();
    }));
  } else {
    for (uint64_t segment : segments) {
      BV_RETURN_IF_ERROR(ForEachChunkIn(segment, [](const format::Id&) { return true; }, drop));
    }
  }
  for (uint64_t segment : segments) batch.ForgetSegmentBlocks(segment);
  BV_RETURN_IF_ERROR(index_->ForEachQuarantined([&](const format::Id& id, const Location& loc) -> Status {
    if (retiring(loc.segment)) batch.DeleteQuarantined(id);
    return Status::Ok();
  }));
  snapshot_live_.reset();
  BV_RETURN_IF_ERROR(index_->ForEachRecipeKey(
      [&](uint64_t snapshot, uint16_t stream, uint32_t piece, const Location& loc) -> Status {
        if (!retiring(loc.segment)) return Status::Ok();
        BV_ASSIGN_OR_RETURN(bool live, SnapshotLive(snapshot));
        if (live) {
          return kept(loc, "recipe piece " + std::to_string(piece) + " of snapshot " + format::SnapshotIdHex(snapshot));
        }
        batch.DeleteRecipe(snapshot, stream, piece);
        return Status::Ok();
      }));
  Status missed;
  BV_RETURN_IF_ERROR(index_->ForEachSnapshot("", [&](const SnapshotEntry& e) {
    if (!retiring(e.commit.segment)) return true;
    missed = kept(e.commit, "the commit of snapshot " + format::SnapshotIdHex(e.record.id));
    return false;
  }));
  BV_RETURN_IF_ERROR(missed);
  BV_RETURN_IF_ERROR(index_->ForEachTombstone([&](uint64_t id, const format::Tombstone& t) -> Status {
    if (retiring(t.commit.segment)) {
      batch.DeleteTombstone(id);
    } else if (retiring(t.deletion.segment)) {
      return kept(t.deletion, "the deletion record of snapshot " + format::SnapshotIdHex(id));
    }
    return Status::Ok();
  }));
  for (uint64_t segment : segments) {
    BV_ASSIGN_OR_RETURN(auto state, index_->GetSegment(segment));
    BV_ASSERT(state && state->sealed);  // only sealed segments are chosen, and they stay sealed
    state->retired = true;
    batch.PutSegment(segment, *state);
  }
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
