#include "engine/check.h"

#include <sodium.h>

#include <algorithm>
#include <set>

#include "engine/check_segment.h"
#include "engine/chunk_id.h"
#include "engine/damage_map.h"
#include "engine/recovery.h"
#include "engine/restore.h"
#include "engine/retired_list.h"
#include "engine/segment_scan.h"
#include "format/recipe_format.h"
#include "format/snapshot_format.h"

namespace bv::engine {

namespace {

std::string SegName(uint64_t n) { return SegmentFiles::Name(n); }

// Every snapshot's recipes must resolve to chunks the index has.
Status CheckReferences(Volume* v, const CheckOptions& opts, CheckReport* report) {
  std::vector<SnapshotEntry> snaps;
  BV_RETURN_IF_ERROR(v->index()->ForEachSnapshot("", [&](const SnapshotEntry& e) {
    if (!opts.snapshot || *opts.snapshot == e.record.id) snaps.push_back(e);
    return true;
  }));
  for (const SnapshotEntry& e : snaps) {
    report->snapshots_checked++;
    for (uint16_t s = 0; s < e.record.streams.size(); s++) {
      uint32_t pieces = 0;
      Status st = v->index()->ForEachRecipe(e.record.id, s, [&](uint32_t piece, uint64_t, const Location& loc) -> Status {
        format::BlockHeader h;
        std::string_view payload;
        BV_RETURN_IF_ERROR(v->reader()->ReadBlock(loc, &h, &payload));
        BV_ASSIGN_OR_RETURN(auto r, format::DecodeRecipe(payload));
        pieces++;
        for (const auto& entry : r.entries) {
          BV_ASSIGN_OR_RETURN(auto chunk, v->index()->GetChunk(entry.chunk_id));
          if (!chunk) {
            BV_ASSIGN_OR_RETURN(auto damaged, v->index()->GetQuarantined(entry.chunk_id));
            return Status::Corruption(
                "chunk " + ChunkIdHex(entry.chunk_id) + " of recipe piece " + std::to_string(piece) +
                (damaged ? " is damaged (" + SegName(damaged->segment) + " offset " + std::to_string(damaged->offset) +
                               ") and quarantined: the snapshot restores once a backup stores the chunk again"
                         : " is missing"));
          }
        }
        return Status::Ok();
      });
      if (st.ok() && pieces != e.record.streams[s].recipe_pieces) {
        st = Status::Corruption("has " + std::to_string(pieces) + " recipe pieces of " +
                                std::to_string(e.record.streams[s].recipe_pieces));
      }
      if (!st.ok()) {
        report->problems.push_back("snapshot " + format::SnapshotIdHex(e.record.id) + " (" + e.record.source +
                                   ") stream " + std::to_string(s) + ": " + st.message());
      }
      if (st.ok() && opts.stream_hashes) {
        NullSink sink;
        RestoreOptions ro;
        ro.stream = s;
        // A whole-volume check has read every block's body_xxh3 in its segment pass; one snapshot's
        // check reads its blocks only here.
        ro.body_check = opts.snapshot ? BodyCheck::kAlways : BodyCheck::kWhenTagFails;
        Status rs = Restore(v, e, ro, &sink);
        if (!rs.ok()) {
          report->problems.push_back("snapshot " + format::SnapshotIdHex(e.record.id) + " (" + e.record.source +
                                     ") stream " + std::to_string(s) + ": " + rs.message());
        }
      }
    }
  }
  return Status::Ok();
}

// Tails that recovery cut past what the index acknowledged, but kept because valid blocks were
// in them: named, with the snapshots whose commit blocks they hold.
Status NoteLostAndFound(Volume* v, CheckReport* report) {
  io::Env* env = v->env();
  const std::string dir = v->segment_files()->LostAndFoundDir();
  if (!env->PathExists(dir)) return Status::Ok();
  BV_ASSIGN_OR_RETURN(auto names, env->ListDir(dir));
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    BV_ASSIGN_OR_RETURN(auto scan, SegmentScan::OpenHeaderless(env, dir + "/" + name));
    std::string commits;
    auto on_block = [&](const format::ScannedBlock& b) {
      if (b.header.type == format::BlockType::kSnapshotCommit) {
        commits += (commits.empty() ? "" : ", ") + format::SnapshotIdHex(format::SnapshotIdFromBlockId(b.header.id));
      }
      return Status::Ok();
    };
    auto go_on = [](const ScanStopInfo&) -> Result<bool> { return true; };
    BV_RETURN_IF_ERROR(scan->Blocks(0, /*read_payloads=*/false, on_block, go_on).status());
    report->notes.push_back("lost+found/" + name + ": " + std::to_string(scan->size()) +
                            " bytes cut past what the index recorded as acknowledged, kept because they hold valid "
                            "blocks" + (commits.empty() ? "" : ", with the commit blocks of snapshots " + commits) +
                            "; if the index was older than the segments, these are backups to recover");
  }
  return Status::Ok();
}

}  // namespace

Status CheckVolume(Volume* v, const CheckOptions& opts, CheckReport* report) {
  if ((opts.decode_data || opts.stream_hashes) && !v->has_keys()) {
    return Status::InvalidArgument("verifying tags and stream hashes needs the volume key");
  }
  EpochGate::Pass reading(v->reads_gate());  // a segment compaction retires meanwhile stays until this ends
  // Recovery's notes tell what it did. A whole-volume check reads every segment and finds any
  // damage recovery met again, with the snapshots it touches; one snapshot's check does not, so
  // there damage that recovery met is a problem.
  for (const std::string& note : v->recovery().notes) {
    (v->recovery().damaged && opts.snapshot ? report->problems : report->notes).push_back("on open: " + note);
  }
  if (opts.snapshot) {
    // One snapshot: its restore reads and checks every block it needs, and nothing else.
    return CheckReferences(v, opts, report);
  }
  // The index before the directory: a segment a writer creates between the two is then in the
  // listing only, never in the index only (which would read as a missing file).
  BV_ASSIGN_OR_RETURN(auto states, SegmentStates(v));
  BV_ASSIGN_OR_RETURN(auto segments, v->segment_files()->List());
  for (size_t i = 0; i < segments.size(); i++) {
    if (auto st = states.find(segments[i]); st != states.end() && st->second.retired) {
      report->notes.push_back(SegName(segments[i]) + ": retired by compaction; its file goes at the next open to write");
      continue;
    }
    BV_RETURN_IF_ERROR(CheckSegment(v, segments[i], i + 1 == segments.size(), opts, report));
  }
  BV_RETURN_IF_ERROR(FindMissingSegments(v, states, segments, report));
  BV_RETURN_IF_ERROR(NoteLostAndFound(v, report));
  BV_RETURN_IF_ERROR(CheckReferences(v, opts, report));
  BV_RETURN_IF_ERROR(SeparateSuperseded(v, report));
  return MapDamageToSnapshots(v, report);
}

Status QuarantineDamagedChunks(Volume* v, const CheckReport& report, uint64_t* quarantined) {
  *quarantined = 0;
  for (const Damage& d : report.damage) {
    for (const auto& id : d.chunks) {
      BV_ASSIGN_OR_RETURN(auto loc, v->index()->GetChunk(id));
      if (!loc) {  // quarantined already, by a restore or a rebuild
        BV_ASSIGN_OR_RETURN(loc, v->index()->GetQuarantined(id));
      }
      if (loc && loc->segment == d.segment && loc->offset >= d.offset && loc->offset < d.end) {
        BV_ASSIGN_OR_RETURN(bool done, v->Quarantine(id, *loc));
        BV_ASSIGN_OR_RETURN(auto now, v->index()->GetQuarantined(id));
        if (done || now == loc) (*quarantined)++;
      }
    }
  }
  return Status::Ok();
}

}  // namespace bv::engine
