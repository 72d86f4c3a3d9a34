#include "engine/recovery.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
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

std::string LostAndFoundDir(const std::string& segments_dir) {
  return std::filesystem::path(segments_dir).parent_path().string() + "/lost+found";
}

namespace {

// Copies [from, end of file) of a segment to lost+found/ beside segments/ before it is cut:
// a tail that holds valid blocks was unacknowledged by the index's word, but an index can be
// older than its segments (a copy put back), and bytes that may be someone's backup are never
// thrown away on that word alone. Returns the copy's path.
Result<std::string> KeepCutTail(io::Env* env, const std::string& segments_dir, uint64_t segment, io::File* file,
                                uint64_t from, uint64_t size) {
  const std::string dir = LostAndFoundDir(segments_dir);
  BV_RETURN_IF_ERROR(io::MakeDirs(dir));
  // A name not taken yet: a copy is never overwritten, not even by a later cut at the same place.
  std::string path = dir + "/" + format::SegmentFileName(segment) + ".from-" + std::to_string(from);
  for (int n = 2; io::PathExists(path); n++) {
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
  BV_RETURN_IF_ERROR(io::SyncDir(dir));
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

Status Recover(io::Env* env, const std::string& segments_dir, const format::VolumeParams& params,
               Index* index, const RecoverMode& mode, RecoveryReport* report, uint64_t* last_segment,
               SegmentState* last_state) {
  // Damage either stops recovery or is noted and worked around, as the mode says.
  auto damage = [&](const Status& s) {
    if (mode.stop_at_damage) return s;
    report->notes.push_back(s.message());
    report->damaged = true;
    return Status::Ok();
  };
  BV_ASSIGN_OR_RETURN(std::vector<uint64_t> segments, ListSegments(segments_dir));
  *last_segment = 0;
  *last_state = SegmentState{};
  report->last_segment_closed = false;
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
    BV_ASSIGN_OR_RETURN(auto file, env->Open(path, mode.truncate_torn_tail ? io::OpenMode::kReadWrite
                                                                           : io::OpenMode::kRead));
    FileSource src(file.get());
    BV_RETURN_IF_ERROR(src.Init());
    std::string head;
    BV_RETURN_IF_ERROR(src.Read(0, format::kSegmentHeaderSize, &head));
    auto header = format::DecodeSegmentHeader(head);
    bool header_damaged = false;
    if (!header.ok()) {
      if (is_last && !state && src.Size() <= format::kSegmentHeaderSize) {
        // Created by a writer that died before its first sync: it never held a block.
        if (mode.truncate_torn_tail) {
          report->notes.push_back(where + ": removed, it was created but never written");
          file.reset();
          BV_RETURN_IF_ERROR(io::RemoveFile(path));
          BV_RETURN_IF_ERROR(io::SyncDir(segments_dir));
        } else {
          report->notes.push_back(where + ": created but never written; the next write removes it");
          report->torn_tail = true;
        }
        continue;
      }
      // The blocks after a damaged header are still the volume's: read them [SCAN-3].
      BV_RETURN_IF_ERROR(damage(Status::Corruption(where + ": header: " + header.status().message() +
                                                   "; its blocks are read all the same")));
      header_damaged = true;
    } else if (header->segment_number != num || header->params.uuid != params.uuid) {
      BV_RETURN_IF_ERROR(damage(Status::Corruption(where + ": header belongs to segment " +
                                                   std::to_string(header->segment_number) + " of volume " +
                                                   header->params.UuidString())));
      if (is_last) report->last_segment_closed = true;
      continue;
    }
    uint64_t from = state ? state->indexed_through : format::kSegmentHeaderSize;
    if (src.Size() < from) {
      BV_RETURN_IF_ERROR(damage(Status::Corruption(
          where + ": is " + std::to_string(src.Size()) + " bytes but blocks through offset " +
          std::to_string(from) + " were indexed: the segment was truncated")));
      if (mode.truncate_torn_tail) {  // a writer: nothing may deduplicate against what was lost
        uint64_t lost = 0;
        BV_RETURN_IF_ERROR(QuarantineBeyond(index, num, src.Size(), &lost));
        report->notes.push_back(where + ": " + std::to_string(lost) + " chunk(s) past the cut quarantined");
      }
      if (is_last) report->last_segment_closed = true;
      continue;
    }
    // [SCAN-4] An index that was kept records how far every segment was acknowledged: in the last
    // segment everything past that is unacknowledged, and writes that were in flight together may
    // have landed out of order, so a hole with valid blocks after it is the same torn tail as a
    // cut. A new index witnesses nothing, so there a bad block with a valid one after it is damage.
    const bool unacknowledged_tail = is_last && !mode.index_is_new;
    SegmentApplier applier(index, num);
    format::SegmentScanner scanner(&src, from, /*read_payloads=*/true);
    for (;;) {
      BV_ASSIGN_OR_RETURN(auto block, scanner.Next());
      if (block) {
        if (Status s = applier.Apply(*block); !s.ok()) {
          // Checksums hold but the record does not decode: a writer's bug, not a torn write.
          BV_RETURN_IF_ERROR(damage(Status::Corruption(where + " offset " + std::to_string(block->offset) + ": " +
                                                       s.message())));
        }
        continue;
      }
      if (scanner.stop() != format::ScanStop::kCorrupt || unacknowledged_tail) break;
      // [SCAN-3] Damage in the middle: reported, and the valid blocks after it are used.
      std::string hb;
      BV_RETURN_IF_ERROR(src.Read(scanner.stop_offset(), format::kBlockHeaderSize, &hb));
      if (auto h = format::DecodeBlockHeader(hb); h.ok()) BV_RETURN_IF_ERROR(applier.Damaged(*h, scanner.stop_offset()));
      BV_RETURN_IF_ERROR(damage(Status::Corruption(
          where + " offset " + std::to_string(scanner.stop_offset()) + ".." + std::to_string(scanner.resume_offset()) +
          ": " + scanner.problem().message() + "; valid blocks follow (run `bvtool fsck`)")));
      scanner.Resume();
    }
    uint64_t end = scanner.stop_offset();
    BV_ASSERT(end >= from && end <= src.Size());
    BV_ASSERT(scanner.stop() == format::ScanStop::kEnd || scanner.stop() == format::ScanStop::kTorn ||
              (scanner.stop() == format::ScanStop::kCorrupt && unacknowledged_tail));
    if (scanner.stop() != format::ScanStop::kEnd) {
      const std::string torn = where + ": torn tail of " + std::to_string(src.Size() - end) + " bytes at offset " +
                               std::to_string(end) + " (" + scanner.problem().message() + ")";
      if (is_last && mode.index_is_new) {
        // [SCAN-5] No index recorded how far this segment was acknowledged: these bytes may be a
        // write that never finished or damage to acknowledged blocks. When in doubt, nothing is
        // cut: they stay, reported, and writing goes on after them.
        BV_RETURN_IF_ERROR(damage(Status::Corruption(
            where + ": the last " + std::to_string(src.Size() - end) + " bytes, from offset " + std::to_string(end) +
            ", do not read (" + scanner.problem().message() +
            ") and no valid block follows them: a write that never finished, or damage; without the index "
            "that recorded how far the segment was acknowledged it cannot be told, so they are kept")));
        end = src.Size();
      } else if (!is_last) {
        // Nothing is ever appended to a segment once a later one exists: these bytes were written
        // and are now unreadable. They stay; later opens need not read them again.
        BV_RETURN_IF_ERROR(damage(Status::Corruption(torn + " at the end of a segment that is not the last")));
        end = src.Size();
      } else if (mode.truncate_torn_tail) {
        if (scanner.stop() == format::ScanStop::kCorrupt) {
          BV_ASSIGN_OR_RETURN(std::string kept, KeepCutTail(env, segments_dir, num, file.get(), end, src.Size()));
          report->notes.push_back(torn + ": valid blocks follow it, so a copy is kept in " + kept);
        }
        report->truncated_bytes += src.Size() - end;
        report->notes.push_back(torn + ": cut");
        BV_RETURN_IF_ERROR(file->Truncate(end));
        BV_RETURN_IF_ERROR(file->DataSync());
      } else {
        // A dead writer's unacknowledged tail, not damage: the next write (or --repair) cuts it.
        report->torn_tail = true;
        report->notes.push_back(torn + (scanner.stop() == format::ScanStop::kCorrupt
                                            ? ": left in place; the index records nothing in it as acknowledged, and "
                                              "valid blocks follow, so the next write keeps a copy in lost+found/"
                                            : ": left in place; nothing in it was acknowledged"));
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
    if (is_last && header_damaged) report->last_segment_closed = true;
  }
  if (report->last_segment_closed) {
    // Writing goes on in a new segment after it.
    *last_segment = segments.back();
    *last_state = SegmentState{true, 0, 0};
  }
  return Status::Ok();
}

}  // namespace bv::engine
