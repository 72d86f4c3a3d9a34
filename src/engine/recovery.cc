#include "engine/recovery.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "engine/segment_scan.h"
#include "format/recipe_format.h"
#include "format/snapshot_format.h"

namespace bv::engine {

namespace {

constexpr size_t kBatchEntriesMax = 8192;

// Applies the blocks of one segment, from `from` to where the scan stops.
class SegmentApplier {
 public:
  SegmentApplier(Index* index, uint64_t segment) : index_(index), segment_(segment), batch_(index->NewBatch()) {}

  Status Apply(const format::ScannedBlock& b) {
    Location loc{segment_, b.offset, b.header.stored_len, b.header.raw_len};
    switch (b.header.type) {
      case format::BlockType::kData: {
        if (pending_ids_.count(b.header.id) > 0) break;
        BV_ASSIGN_OR_RETURN(auto existing, index_->GetChunk(b.header.id));
        if (!existing) {
          batch_.PutChunk(b.header.id, loc);
          pending_ids_.insert(b.header.id);
        }
        break;
      }
      case format::BlockType::kRecipe: {
        BV_ASSIGN_OR_RETURN(format::RecipePiece r, format::DecodeRecipe(b.payload));
        batch_.PutRecipe(format::SnapshotIdFromBlockId(b.header.id), r.stream_index, r.piece_index, r.stream_offset, loc);
        break;
      }
      case format::BlockType::kSnapshotCommit: {
        BV_ASSIGN_OR_RETURN(format::SnapshotRecord r, format::DecodeSnapshot(b.payload));
        if (r.id != format::SnapshotIdFromBlockId(b.header.id)) {
          return Status::Corruption("commit block id does not match its record");
        }
        batch_.PutSnapshot(SnapshotEntry{std::move(r), loc});
        snapshots_++;
        break;
      }
      case format::BlockType::kSnapshotDeletion: {
        BV_ASSIGN_OR_RETURN(format::DeletionRecord d, format::DecodeDeletion(b.payload));
        BV_RETURN_IF_ERROR(Flush());  // the commit may be in this very batch
        BV_ASSIGN_OR_RETURN(auto e, index_->GetSnapshot(d.snapshot_id));
        if (e) batch_.DeleteSnapshot(*e, loc);
        break;
      }
      case format::BlockType::kPadding:
      case format::BlockType::kSeal:
      case format::BlockType::kDelta:
        break;
    }
    blocks_++;
    if (batch_.count() >= kBatchEntriesMax) BV_RETURN_IF_ERROR(Flush());
    return Status::Ok();
  }

  // A data block whose header reads but whose body does not: its chunk is quarantined
  // (Volume::Quarantine) unless a good copy came first, so an index rebuilt from the segments
  // keeps the quarantine too.
  Status Damaged(const format::BlockHeader& h, uint64_t offset) {
    if (h.type != format::BlockType::kData || pending_ids_.count(h.id) > 0) return Status::Ok();
    BV_ASSIGN_OR_RETURN(auto existing, index_->GetChunk(h.id));
    if (!existing) batch_.QuarantineChunk(h.id, Location{segment_, offset, h.stored_len, h.raw_len});
    return Status::Ok();
  }

  Status Finish(const SegmentState& state) {
    batch_.PutSegment(segment_, state);
    return Flush(/*sync=*/true);
  }

  Status Flush(bool sync = false) {
    BV_RETURN_IF_ERROR(index_->Write(&batch_, sync));
    batch_ = index_->NewBatch();
    pending_ids_.clear();
    return Status::Ok();
  }

  uint64_t blocks() const { return blocks_; }
  uint64_t snapshots() const { return snapshots_; }

 private:
  Index* index_;
  uint64_t segment_;
  IndexBatch batch_;
  std::set<format::Id> pending_ids_;  // data blocks in the unwritten batch
  uint64_t blocks_ = 0;
  uint64_t snapshots_ = 0;
};

}  // namespace

namespace {

// Copies [from, end of file) of a segment to lost+found/ beside segments/ before it is cut:
// a tail that holds valid blocks was unacknowledged by the index's word, but an index can be
// older than its segments (a copy put back), and bytes that may be someone's backup are never
// thrown away on that word alone. Returns the copy's path.
Result<std::string> KeepCutTail(SegmentFiles* files, uint64_t segment, io::File* file, uint64_t from, uint64_t size) {
  io::Env* env = files->env();
  const std::string dir = files->LostAndFoundDir();
  BV_RETURN_IF_ERROR(env->MakeDirs(dir, 0755));
  // A name not taken yet: a copy is never overwritten, not even by a later cut at the same place.
  std::string path = dir + "/" + format::SegmentFileName(segment) + ".from-" + std::to_string(from);
  for (int n = 2; env->PathExists(path); n++) {
    path = dir + "/" + format::SegmentFileName(segment) + ".from-" + std::to_string(from) + "." + std::to_string(n);
  }
  BV_ASSIGN_OR_RETURN(auto out, env->Open(path, io::OpenMode::kCreate));
  uint64_t at = 0;
  while (from + at < size) {
    BV_ASSIGN_OR_RETURN(io::Buffer buf, env->AcquireBuffer());
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size, size - from - at));
    auto got = file->ReadAt(from + at, buf.data, n);
    if (!got.ok() || *got != n) {
      env->ReleaseBuffer(buf);
      return got.ok() ? Status::IOError(file->path() + ": short read while keeping a cut tail") : got.status();
    }
    const size_t padded = (n + format::kPageSize - 1) / format::kPageSize * format::kPageSize;
    std::memset(buf.data + n, 0, padded - n);
    BV_RETURN_IF_ERROR(out->SubmitWrite(at, buf, padded));
    at += n;
  }
  BV_RETURN_IF_ERROR(out->WaitWrites());
  BV_RETURN_IF_ERROR(out->Truncate(at));
  BV_RETURN_IF_ERROR(out->DataSync());
  BV_RETURN_IF_ERROR(env->SyncDir(dir));
  return path;
}

}  // namespace

Status QuarantineBeyond(Index* index, uint64_t segment, uint64_t size, uint64_t* count) {
  *count = 0;
  IndexBatch batch = index->NewBatch();
  BV_RETURN_IF_ERROR(index->ForEachChunkAt(segment, 0, UINT64_MAX, [&](uint64_t, const format::Id& id) -> Status {
    BV_ASSIGN_OR_RETURN(auto loc, index->GetChunk(id));
    if (loc && loc->segment == segment && loc->offset + loc->total_size() > size) {
      batch.QuarantineChunk(id, *loc);
      (*count)++;
    }
    return Status::Ok();
  }));
  return index->Write(&batch, /*sync=*/true);
}

namespace {

// One recovery of a volume's segments, in order: the unindexed blocks of every unsealed segment
// applied to the index, a torn tail cut or left as the mode says, damage noted or returned.
class Recovery {
 public:
  Recovery(SegmentFiles* files, const format::VolumeParams& params, Index* index, const RecoverMode& mode,
           RecoveryReport* report)
      : files_(files), params_(params), index_(index), mode_(mode), report_(report) {}

  Status Run(uint64_t* last_segment, SegmentState* last_state) {
    BV_ASSIGN_OR_RETURN(std::vector<uint64_t> segments, files_->List());
    report_->last_segment_closed = false;
    for (size_t i = 0; i < segments.size(); i++) {
      BV_RETURN_IF_ERROR(RecoverSegment(segments[i], i + 1 == segments.size()));
    }
    if (report_->last_segment_closed) {
      // Writing goes on in a new segment after it.
      last_segment_ = segments.back();
      last_state_ = SegmentState{true, 0, 0};
    }
    *last_segment = last_segment_;
    *last_state = last_state_;
    return Status::Ok();
  }

 private:
  // Damage either stops recovery or is noted and worked around, as the mode says.
  Status Damage(const std::string& what) {
    if (mode_.stop_at_damage) return Status::Corruption(what);
    report_->notes.push_back(what);
    report_->damaged = true;
    return Status::Ok();
  }

  Status RecoverSegment(uint64_t num, bool is_last) {
    const std::string where = SegmentFiles::Name(num);
    BV_ASSIGN_OR_RETURN(auto state, index_->GetSegment(num));
    if (state && state->sealed) {
      last_segment_ = num;
      last_state_ = *state;
      return Status::Ok();
    }
    BV_ASSIGN_OR_RETURN(auto scan, SegmentScan::Open(files_, num, /*writable=*/mode_.truncate_torn_tail));
    const bool header_damaged = !scan->header();
    if (header_damaged) {
      // [SCAN-4] A last segment that no sync point recorded in a kept index holds nothing
      // acknowledged: a writer died before syncing it, and its header was among what was lost.
      if (is_last && !state && (scan->size() <= format::kSegmentHeaderSize || !mode_.index_is_new)) {
        return NeverSynced(num, std::move(scan));
      }
      // The blocks after a damaged header are still the volume's: read them [SCAN-3].
      BV_RETURN_IF_ERROR(Damage(where + ": header: " + scan->header_problem().message() +
                                "; its blocks are read all the same"));
    } else if (scan->header()->segment_number != num || scan->header()->params.uuid != params_.uuid) {
      BV_RETURN_IF_ERROR(Damage(where + ": header belongs to segment " + std::to_string(scan->header()->segment_number) +
                                " of volume " + scan->header()->params.UuidString()));
      if (is_last) report_->last_segment_closed = true;
      return Status::Ok();
    }
    const uint64_t from = state ? state->indexed_through : format::kSegmentHeaderSize;
    if (scan->size() < from) return Truncated(num, is_last, scan->size(), from);
    SegmentApplier applier(index_, num);
    BV_ASSIGN_OR_RETURN(uint64_t end, ApplyBlocks(num, is_last, scan.get(), from, &applier));
    if (applier.blocks() > 0 && mode_.truncate_torn_tail) {
      // The blocks just indexed may have been read from the page cache of a writer that never
      // synced them: make them durable before the index points at them.
      BV_RETURN_IF_ERROR(scan->file()->DataSync());
    }
    const SegmentState done{scan->sealed(), end, (state ? state->blocks : 0) + applier.blocks()};
    BV_RETURN_IF_ERROR(applier.Finish(done));
    report_->segments_scanned++;
    report_->blocks_applied += applier.blocks();
    report_->snapshots_found += applier.snapshots();
    last_segment_ = num;
    last_state_ = done;
    if (is_last && header_damaged) report_->last_segment_closed = true;
    return Status::Ok();
  }

  // The blocks of a segment from `from` applied; returns where the segment's valid part ends.
  Result<uint64_t> ApplyBlocks(uint64_t num, bool is_last, SegmentScan* scan, uint64_t from, SegmentApplier* applier) {
    const std::string where = SegmentFiles::Name(num);
    // [SCAN-4] An index that was kept records how far every segment was acknowledged: in the last
    // segment everything past that is unacknowledged, and writes that were in flight together may
    // have landed out of order, so a hole with valid blocks after it is the same torn tail as a
    // cut. A new index witnesses nothing, so there a bad block with a valid one after it is damage.
    const bool unacknowledged_tail = is_last && !mode_.index_is_new;
    auto on_block = [&](const format::ScannedBlock& b) -> Status {
      Status s = applier->Apply(b);
      // Checksums hold but the record does not decode: a writer's bug, not a torn write.
      return s.ok() ? s : Damage(where + " offset " + std::to_string(b.offset) + ": " + s.message());
    };
    auto on_stop = [&](const ScanStopInfo& st) -> Result<bool> {
      if (st.stop != format::ScanStop::kCorrupt || unacknowledged_tail) return false;
      // [SCAN-3] Damage in the middle: reported, and the valid blocks after it are used.
      if (st.header) BV_RETURN_IF_ERROR(applier->Damaged(*st.header, st.offset));
      BV_RETURN_IF_ERROR(Damage(where + " offset " + std::to_string(st.offset) + ".." + std::to_string(st.resume) +
                                ": " + st.problem.message() + "; valid blocks follow (run `bvtool fsck`)"));
      return true;
    };
    BV_ASSIGN_OR_RETURN(ScanStopInfo stop, scan->Blocks(from, /*read_payloads=*/true, on_block, on_stop));
    BV_ASSERT(stop.offset >= from && stop.offset <= scan->size());
    BV_ASSERT(stop.stop == format::ScanStop::kEnd || stop.stop == format::ScanStop::kTorn ||
              (stop.stop == format::ScanStop::kCorrupt && unacknowledged_tail));
    if (stop.stop == format::ScanStop::kEnd) return stop.offset;
    return BadTail(num, is_last, scan, stop);
  }

  // Bytes at the end of a segment that do not read; returns where its valid part ends.
  Result<uint64_t> BadTail(uint64_t num, bool is_last, SegmentScan* scan, const ScanStopInfo& stop) {
    const std::string where = SegmentFiles::Name(num);
    const uint64_t size = scan->size(), end = stop.offset;
    const std::string torn = where + ": torn tail of " + std::to_string(size - end) + " bytes at offset " +
                             std::to_string(end) + " (" + stop.problem.message() + ")";
    if (is_last && mode_.index_is_new) {
      // [SCAN-5] No index recorded how far this segment was acknowledged: these bytes may be a
      // write that never finished or damage to acknowledged blocks. When in doubt, nothing is
      // cut: they stay, reported, and writing goes on after them.
      BV_RETURN_IF_ERROR(Damage(
          where + ": the last " + std::to_string(size - end) + " bytes, from offset " + std::to_string(end) +
          ", do not read (" + stop.problem.message() +
          ") and no valid block follows them: a write that never finished, or damage; without the index "
          "that recorded how far the segment was acknowledged it cannot be told, so they are kept"));
      return size;
    }
    if (!is_last) {
      // Nothing is ever appended to a segment once a later one exists: these bytes were written
      // and are now unreadable. They stay; later opens need not read them again.
      BV_RETURN_IF_ERROR(Damage(torn + " at the end of a segment that is not the last"));
      return size;
    }
    if (!mode_.truncate_torn_tail) {
      // A dead writer's unacknowledged tail, not damage: the next write (or --repair) cuts it.
      report_->torn_tail = true;
      report_->notes.push_back(torn + (stop.stop == format::ScanStop::kCorrupt
                                           ? ": left in place; the index records nothing in it as acknowledged, and "
                                             "valid blocks follow, so the next write keeps a copy in lost+found/"
                                           : ": left in place; nothing in it was acknowledged"));
      return end;
    }
    if (stop.stop == format::ScanStop::kCorrupt) {
      BV_ASSIGN_OR_RETURN(std::string kept, KeepCutTail(files_, num, scan->file(), end, size));
      report_->notes.push_back(torn + ": valid blocks follow it, so a copy is kept in " + kept);
    }
    report_->truncated_bytes += size - end;
    report_->notes.push_back(torn + ": cut");
    BV_RETURN_IF_ERROR(scan->file()->Truncate(end));
    BV_RETURN_IF_ERROR(scan->file()->DataSync());
    return end;
  }

  // A last segment created by a writer that died before its first sync. It goes; blocks past
  // its header (written, never synced) are kept in lost+found/ first, as any cut tail's are.
  Status NeverSynced(uint64_t num, std::unique_ptr<SegmentScan> scan) {
    const std::string where = SegmentFiles::Name(num);
    if (!mode_.truncate_torn_tail) {
      report_->notes.push_back(where + ": created but never synced; the next write removes it");
      report_->torn_tail = true;
      return Status::Ok();
    }
    if (scan->size() > format::kSegmentHeaderSize) {
      BV_ASSIGN_OR_RETURN(std::string kept, KeepCutTail(files_, num, scan->file(), format::kSegmentHeaderSize,
                                                        scan->size()));
      report_->truncated_bytes += scan->size();
      report_->notes.push_back(where + ": created but never synced (its header does not read); its " +
                               std::to_string(scan->size() - format::kSegmentHeaderSize) +
                               " bytes of blocks are kept in " + kept);
    }
    report_->notes.push_back(where + ": removed, it was created but never synced");
    scan.reset();
    files_->Forget(num);
    BV_RETURN_IF_ERROR(files_->env()->RemoveFile(files_->Path(num)));
    return files_->env()->SyncDir(files_->dir());
  }

  // A segment shorter than what the index recorded of it.
  Status Truncated(uint64_t num, bool is_last, uint64_t size, uint64_t indexed_through) {
    const std::string where = SegmentFiles::Name(num);
    BV_RETURN_IF_ERROR(Damage(where + ": is " + std::to_string(size) + " bytes but blocks through offset " +
                              std::to_string(indexed_through) + " were indexed: the segment was truncated"));
    if (mode_.truncate_torn_tail) {  // a writer: nothing may deduplicate against what was lost
      uint64_t lost = 0;
      BV_RETURN_IF_ERROR(QuarantineBeyond(index_, num, size, &lost));
      report_->notes.push_back(where + ": " + std::to_string(lost) + " chunk(s) past the cut quarantined");
    }
    if (is_last) report_->last_segment_closed = true;
    return Status::Ok();
  }

  SegmentFiles* files_;
  const format::VolumeParams& params_;
  Index* index_;
  const RecoverMode& mode_;
  RecoveryReport* report_;
  uint64_t last_segment_ = 0;
  SegmentState last_state_;
};

}  // namespace

Status Recover(SegmentFiles* files, const format::VolumeParams& params, Index* index, const RecoverMode& mode,
               RecoveryReport* report, uint64_t* last_segment, SegmentState* last_state) {
  return Recovery(files, params, index, mode, report).Run(last_segment, last_state);
}

}  // namespace bv::engine
