#include "engine/recovery.h"

#include <algorithm>
#include <set>

#include "engine/file_source.h"
#include "format/recipe_format.h"
#include "format/segment_scanner.h"
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
        if (e) batch_.DeleteSnapshot(e->record);
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

Result<std::vector<uint64_t>> ListSegments(const std::string& segments_dir) {
  BV_ASSIGN_OR_RETURN(auto names, io::ListDir(segments_dir));
  std::vector<uint64_t> numbers;
  for (const std::string& n : names) {
    uint64_t num;
    if (format::ParseSegmentFileName(n, &num)) numbers.push_back(num);
  }
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

Status Recover(io::Env* env, const std::string& segments_dir, const format::VolumeParams& params,
               Index* index, const RecoverMode& mode, RecoveryReport* report, uint64_t* last_segment,
               SegmentState* last_state) {
  // Damage either stops recovery or is noted and skipped, as the mode says.
  auto damage = [&](const Status& s) {
    if (mode.stop_at_damage) return s;
    report->notes.push_back(s.message());
    report->damaged = true;
    return Status::Ok();
  };
  BV_ASSIGN_OR_RETURN(std::vector<uint64_t> segments, ListSegments(segments_dir));
  *last_segment = 0;
  *last_state = SegmentState{};
  for (size_t i = 0; i < segments.size(); i++) {
    const uint64_t num = segments[i];
    const bool is_last = i + 1 == segments.size();
    const std::string path = segments_dir + "/" + format::SegmentFileName(num);
    const std::string where = "segment " + format::SegmentFileName(num);
    BV_ASSIGN_OR_RETURN(auto state, index->GetSegment(num));
    if (state && state->sealed) {
      *last_segment = num;
      *last_state = *state;
      continue;
    }
    BV_ASSIGN_OR_RETURN(auto file, env->Open(path, io::OpenMode::kReadWrite));
    FileSource src(file.get());
    BV_RETURN_IF_ERROR(src.Init());
    std::string head;
    BV_RETURN_IF_ERROR(src.Read(0, format::kSegmentHeaderSize, &head));
    auto header = format::DecodeSegmentHeader(head);
    if (!header.ok()) {
      if (is_last && !state && src.Size() <= format::kSegmentHeaderSize) {
        // Created by a writer that died before its first sync: it never held a block.
        report->notes.push_back(where + ": removed, it was created but never written");
        file.reset();
        BV_RETURN_IF_ERROR(io::RemoveFile(path));
        BV_RETURN_IF_ERROR(io::SyncDir(segments_dir));
        continue;
      }
      BV_RETURN_IF_ERROR(damage(Status::Corruption(where + ": " + header.status().message())));
      continue;
    }
    if (header->segment_number != num || header->params.uuid != params.uuid) {
      BV_RETURN_IF_ERROR(damage(Status::Corruption(where + ": header belongs to segment " +
                                                   std::to_string(header->segment_number) + " of volume " +
                                                   header->params.UuidString())));
      continue;
    }
    uint64_t from = state ? state->indexed_through : format::kSegmentHeaderSize;
    if (src.Size() < from) {
      BV_RETURN_IF_ERROR(damage(Status::Corruption(
          where + ": is " + std::to_string(src.Size()) + " bytes but blocks through offset " +
          std::to_string(from) + " were indexed: the segment was truncated")));
      continue;
    }
    SegmentApplier applier(index, num);
    format::SegmentScanner scanner(&src, from, /*read_payloads=*/true);
    for (;;) {
      BV_ASSIGN_OR_RETURN(auto block, scanner.Next());
      if (!block) break;
      Status s = applier.Apply(*block);
      if (!s.ok()) {
        return Status::Corruption(where + " offset " + std::to_string(block->offset) + ": " + s.message());
      }
    }
    uint64_t end = scanner.stop_offset();
    // In the last segment everything past indexed_through is unacknowledged, and writes that were
    // in flight together may have landed out of order: a hole with valid blocks after it is the
    // same torn tail as a cut. (Acknowledged blocks all lie before indexed_through.)
    const bool unacknowledged_tail = is_last && scanner.stop() != format::ScanStop::kEnd;
    if (scanner.stop() == format::ScanStop::kCorrupt && !unacknowledged_tail) {
      BV_RETURN_IF_ERROR(damage(Status::Corruption(where + ": " + scanner.problem().message() +
                                                   "; valid blocks follow at offset " +
                                                   std::to_string(scanner.resume_offset()) + " (run `bvtool fsck`)")));
      continue;
    }
    if (scanner.stop() == format::ScanStop::kTorn || unacknowledged_tail) {
      const std::string torn = where + ": torn tail of " + std::to_string(src.Size() - end) + " bytes at offset " +
                               std::to_string(end) + " (" + scanner.problem().message() + ")";
      if (!is_last) {
        BV_RETURN_IF_ERROR(damage(Status::Corruption(torn + " at the end of a segment that is not the last")));
        continue;
      }
      if (mode.truncate_torn_tail) {
        report->truncated_bytes += src.Size() - end;
        report->notes.push_back(torn + ": cut");
        BV_RETURN_IF_ERROR(file->Truncate(end));
        BV_RETURN_IF_ERROR(file->DataSync());
      } else {
        // A dead writer's unacknowledged tail, not damage: the next write (or --repair) cuts it.
        report->torn_tail = true;
        report->notes.push_back(torn + ": left in place; nothing in it was acknowledged");
      }
    }
    if (applier.blocks() > 0 && mode.truncate_torn_tail) {
      // The blocks just indexed may have been read from the page cache of a writer that never
      // synced them: make them durable before the index points at them.
      BV_RETURN_IF_ERROR(file->DataSync());
    }
    const SegmentState done{scanner.sealed(), end, (state ? state->blocks : 0) + applier.blocks()};
    BV_RETURN_IF_ERROR(applier.Finish(done));
    report->segments_scanned++;
    report->blocks_applied += applier.blocks();
    report->snapshots_found += applier.snapshots();
    *last_segment = num;
    *last_state = done;
  }
  return Status::Ok();
}

}  // namespace bv::engine
