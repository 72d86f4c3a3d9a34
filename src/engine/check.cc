#include "engine/check.h"

#include <sodium.h>

#include <algorithm>
#include <set>

#include "engine/chunk_id.h"
#include "engine/recovery.h"
#include "engine/restore.h"
#include "engine/retired_list.h"
#include "engine/segment_scan.h"
#include "format/recipe_format.h"
#include "format/snapshot_format.h"

namespace bv::engine {


namespace {

std::string SegName(uint64_t n) { return SegmentFiles::Name(n); }

// Chunk ids the index places in [from, to) of a segment, plus the id in a readable header there.
Status ChunksInRange(Volume* v, Damage* d, const std::optional<format::Id>& header_id) {
  std::set<format::Id> ids;
  if (header_id) ids.insert(*header_id);
  BV_RETURN_IF_ERROR(v->index()->ForEachChunkAt(d->segment, d->offset, d->end, [&](uint64_t, const format::Id& id) {
    ids.insert(id);
    return Status::Ok();
  }));
  d->chunks.assign(ids.begin(), ids.end());
  return Status::Ok();
}

// The record in a metadata block; its checksums hold, so a failure here is a writer's bug.
Status DecodeRecord(const format::ScannedBlock& b) {
  switch (b.header.type) {
    case format::BlockType::kRecipe:
      return format::DecodeRecipe(b.payload).status();
    case format::BlockType::kSnapshotCommit:
      return format::DecodeSnapshot(b.payload).status();
    case format::BlockType::kSnapshotDeletion:
      return format::DecodeDeletion(b.payload).status();
    default:
      return Status::Ok();
  }
}

// A data block's payload checked with the key: the tag of an encrypted one, the decompression
// of a plain one. The scanner has checked body_xxh3 already.
Status CheckDataBlock(Volume* v, const format::ScannedBlock& b, std::string* plain) {
  // An encrypted block's tag shows that its payload is the one sealed under the volume's key:
  // decompressing it is left to the stream pass, which decodes every block a snapshot holds. An
  // unencrypted block has only its checksum, so it is decompressed here too.
  if (b.header.encrypted()) return v->codec().Authenticate(b.header, b.payload);
  plain->resize(b.header.raw_len);
  return v->codec()
      .DecodeChunk(b.header, b.payload, reinterpret_cast<uint8_t*>(plain->data()), BodyCheck::kWhenTagFails)
      .status();
}

Status CheckSegment(Volume* v, uint64_t num, bool is_last, const CheckOptions& opts, CheckReport* report) {
  BV_ASSIGN_OR_RETURN(auto scan, SegmentScan::Open(v->segment_files(), num, /*writable=*/false));
  report->segments++;
  report->bytes += scan->size();
  BV_ASSIGN_OR_RETURN(auto state, v->index()->GetSegment(num));
  if (!scan->header() && is_last && !state) {
    // [SCAN-4] A rotation whose writer died before its first sync: nothing in it was
    // acknowledged, and the next writer removes it. Not damage.
    report->notes.push_back(SegName(num) + ": created by a writer that died before its first sync; the next write "
                                           "removes it");
    return Status::Ok();
  }
  if (!scan->header()) {
    // The blocks after a damaged header are read all the same [SCAN-3].
    report->damage.push_back(
        Damage{num, 0, format::kSegmentHeaderSize, "segment header: " + scan->header_problem().message(), {}, {}});
  }
  const auto& header = scan->header();
  if (header && (header->segment_number != num || header->params.uuid != v->params().uuid)) {
    // Another file in this one's place: whatever the index placed here is gone.
    Damage d{num, 0, std::max(scan->size(), state ? state->indexed_through : 0),
             "the header belongs to segment " + std::to_string(header->segment_number) + " of volume " +
                 header->params.UuidString(),
             {}, {}};
    BV_RETURN_IF_ERROR(ChunksInRange(v, &d, std::nullopt));
    report->damage.push_back(std::move(d));
    return Status::Ok();
  }
  std::string plain;
  auto on_block = [&](const format::ScannedBlock& b) -> Status {
    report->blocks++;
    Status s = DecodeRecord(b);
    if (s.ok() && opts.decode_data && b.header.type == format::BlockType::kData) {
      s = CheckDataBlock(v, b, &plain);
      if (!s.ok()) {
        Damage d{num, b.offset, b.offset + b.header.total_size(), s.message(), {b.header.id}, {}};
        d.header = b.header;
        report->damage.push_back(std::move(d));
      }
      return Status::Ok();
    }
    if (!s.ok()) report->damage.push_back(Damage{num, b.offset, b.offset + b.header.total_size(), s.message(), {}, {}});
    return Status::Ok();
  };
  auto on_stop = [&](const ScanStopInfo& st) -> Result<bool> {
    if (is_last && state && !state->sealed && st.offset >= state->indexed_through) {
      return false;  // the unacknowledged tail of a dead writer, already noted by recovery
    }
    Damage d{num, st.offset, st.stop == format::ScanStop::kCorrupt ? st.resume : scan->size(), st.problem.message(),
             {}, {}};
    d.header = st.header;
    // A cut segment lost everything the index knew past the cut.
    if (st.stop == format::ScanStop::kTorn && state) d.end = std::max(d.end, state->indexed_through);
    std::optional<format::Id> hid;
    if (st.header && st.header->type == format::BlockType::kData) hid = st.header->id;
    BV_RETURN_IF_ERROR(ChunksInRange(v, &d, hid));
    report->damage.push_back(std::move(d));
    return true;
  };
  BV_RETURN_IF_ERROR(scan->Blocks(format::kSegmentHeaderSize, /*read_payloads=*/true, on_block, on_stop).status());
  if (state && state->indexed_through > scan->size()) {
    report->problems.push_back(SegName(num) + ": is " + std::to_string(scan->size()) +
                               " bytes, but the index has blocks through offset " +
                               std::to_string(state->indexed_through));
  }
  return Status::Ok();
}

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

bool InDamage(const CheckReport& report, const Location& loc) {
  for (const Damage& d : report.damage) {
    if (loc.segment == d.segment && loc.offset < d.end && loc.offset + loc.total_size() > d.offset) return true;
  }
  return false;
}

// A damaged data block whose chunk the index finds intact elsewhere (a later backup stored it
// again after it was quarantined) costs no snapshot anything: it is a note, not damage. Only a
// range that is exactly one block with a readable header qualifies; what else an unreadable range
// held is not known.
Status SeparateSuperseded(Volume* v, CheckReport* report) {
  std::vector<Damage> kept;
  for (Damage& d : report->damage) {
    // The segment pass read the header at the damaged offset already (d.header).
    std::optional<Location> good;
    const std::optional<format::BlockHeader>& h = d.header;
    if (h && h->type == format::BlockType::kData && d.offset + h->total_size() == d.end) {
      BV_ASSIGN_OR_RETURN(good, v->index()->GetChunk(h->id));
      if (good && InDamage(*report, *good)) good.reset();
    }
    if (!good) {
      kept.push_back(std::move(d));
      continue;
    }
    report->notes.push_back(SegName(d.segment) + " offset " + std::to_string(d.offset) + ".." +
                            std::to_string(d.end) + ": " + d.what + "; superseded by the copy in " +
                            SegName(good->segment) + " offset " + std::to_string(good->offset) +
                            ", which every snapshot now reads; compaction will drop it");
    report->superseded++;
  }
  report->damage = std::move(kept);
  return Status::Ok();
}

// Names the snapshots whose recipes reference damaged chunks. One pass over every recipe; memory
// is the damaged set, not the store.
// The damaged chunks that still cost something: a chunk stored again since (the index points at
// a copy outside every damaged range) costs the snapshots that reference it nothing.
Result<std::set<format::Id>> ChunksStillDamaged(Volume* v, const CheckReport& report) {
  std::set<format::Id> damaged;
  for (const Damage& d : report.damage) {
    for (const format::Id& id : d.chunks) {
      BV_ASSIGN_OR_RETURN(auto now, v->index()->GetChunk(id));
      if (!now || InDamage(report, *now)) damaged.insert(id);
    }
  }
  return damaged;
}

// One pass over every recipe: a recipe block inside a damaged range names its snapshot directly;
// a readable recipe names the snapshot of every damaged chunk it lists.
Status NameSnapshotsByRecipe(Volume* v, const std::set<format::Id>& damaged, CheckReport* report) {
  std::set<std::pair<format::Id, uint64_t>> hits;
  BV_RETURN_IF_ERROR(v->index()->ForEachRecipeKey([&](uint64_t snap, uint16_t, uint32_t, const Location& loc) -> Status {
    for (Damage& d : report->damage) {
      if (loc.segment == d.segment && loc.offset >= d.offset && loc.offset < d.end) d.snapshots.push_back(snap);
    }
    if (damaged.empty()) return Status::Ok();
    format::BlockHeader h;
    std::string_view payload;
    if (!v->reader()->ReadBlock(loc, &h, &payload).ok()) return Status::Ok();  // reported as damage already
    auto r = format::DecodeRecipe(payload);
    if (!r.ok()) return Status::Ok();
    for (const auto& e : r->entries) {
      if (damaged.count(e.chunk_id)) hits.insert({e.chunk_id, snap});
    }
    return Status::Ok();
  }));
  for (Damage& d : report->damage) {
    for (const auto& id : d.chunks) {
      if (!damaged.count(id)) continue;
      for (auto it = hits.lower_bound({id, 0}); it != hits.end() && it->first == id; ++it) {
        d.snapshots.push_back(it->second);
      }
    }
  }
  return Status::Ok();
}

// A commit block in a damaged range: its snapshot is lost with it.
Status NameSnapshotsByCommit(Volume* v, CheckReport* report) {
  return v->index()->ForEachSnapshot("", [&](const SnapshotEntry& e) {
    for (Damage& d : report->damage) {
      if (e.commit.segment == d.segment && e.commit.offset >= d.offset && e.commit.offset < d.end) {
        d.snapshots.push_back(e.record.id);
      }
    }
    return true;
  });
}

// Snapshots with recipe pieces but no commit block (nor a resumable session): a commit that
// damage took, or a push that never committed. A commit block whose header reads in a damaged
// range names the snapshot lost; a range whose content is unknown may have held any of these.
// Memory: one id per such snapshot.
Status NameLostCommits(Volume* v, CheckReport* report) {
  std::set<uint64_t> uncommitted;
  BV_RETURN_IF_ERROR(v->index()->ForEachRecipeKey([&](uint64_t snap, uint16_t, uint32_t, const Location&) -> Status {
    if (report->damage.empty() || uncommitted.count(snap)) return Status::Ok();
    BV_ASSIGN_OR_RETURN(auto e, v->index()->GetSnapshot(snap));
    if (e) return Status::Ok();
    BV_ASSIGN_OR_RETURN(auto session, v->index()->GetSession(snap));
    if (!session) uncommitted.insert(snap);
    return Status::Ok();
  }));
  for (Damage& d : report->damage) {
    const bool commit_header = d.header && d.header->type == format::BlockType::kSnapshotCommit;
    // One block whose header reads: what the range held is known.
    const bool one_known_block = d.header && d.offset + d.header->total_size() == d.end;
    if (commit_header) {
      const uint64_t id = format::SnapshotIdFromBlockId(d.header->id);
      BV_ASSIGN_OR_RETURN(auto e, v->index()->GetSnapshot(id));
      if (!e) d.lost.push_back(id);
    }
    if (!one_known_block) {
      for (uint64_t id : uncommitted) {
        if (std::find(d.lost.begin(), d.lost.end(), id) == d.lost.end()) d.maybe_lost.push_back(id);
      }
    }
  }
  return Status::Ok();
}

Status MapDamageToSnapshots(Volume* v, CheckReport* report) {
  BV_ASSIGN_OR_RETURN(std::set<format::Id> damaged, ChunksStillDamaged(v, *report));
  BV_RETURN_IF_ERROR(NameSnapshotsByRecipe(v, damaged, report));
  BV_RETURN_IF_ERROR(NameSnapshotsByCommit(v, report));
  BV_RETURN_IF_ERROR(NameLostCommits(v, report));
  for (Damage& d : report->damage) {
    std::sort(d.snapshots.begin(), d.snapshots.end());
    d.snapshots.erase(std::unique(d.snapshots.begin(), d.snapshots.end()), d.snapshots.end());
    // Only snapshots that still exist matter.
    std::vector<uint64_t> live;
    for (uint64_t s : d.snapshots) {
      BV_ASSIGN_OR_RETURN(auto e, v->index()->GetSnapshot(s));
      if (e) live.push_back(s);
    }
    d.snapshots = std::move(live);
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
  BV_ASSIGN_OR_RETURN(auto segments, v->segment_files()->List());
  if (opts.snapshot) {
    // One snapshot: its restore reads and checks every block it needs, and nothing else.
    return CheckReferences(v, opts, report);
  }
  std::set<uint64_t> retired;  // compaction moved what they held that is needed [CMP-5]
  BV_RETURN_IF_ERROR(v->index()->ForEachSegment([&](uint64_t n, const SegmentState& st) {
    if (st.retired) retired.insert(n);
    return Status::Ok();
  }));
  for (size_t i = 0; i < segments.size(); i++) {
    if (retired.count(segments[i])) {
      report->notes.push_back(SegName(segments[i]) + ": retired by compaction; its file goes at the next open to write");
      continue;
    }
    BV_RETURN_IF_ERROR(CheckSegment(v, segments[i], i + 1 == segments.size(), opts, report));
  }
  // Index entries must point at segments that exist.
  std::set<uint64_t> present(segments.begin(), segments.end());
  std::vector<Damage> missing;
  BV_RETURN_IF_ERROR(v->index()->ForEachSegment([&](uint64_t n, const SegmentState& st) {
    if (!present.count(n) && !st.retired) {
      missing.push_back(Damage{n, 0, std::max<uint64_t>(st.indexed_through, format::kSegmentHeaderSize),
                               "in the index but the file is missing", {}, {}});
    }
    return Status::Ok();
  }));
  for (Damage& d : missing) {
    BV_RETURN_IF_ERROR(ChunksInRange(v, &d, std::nullopt));
    report->damage.push_back(std::move(d));
  }
  // Numbers are given out in order and never twice: one that neither the directory nor the index
  // has is a segment lost without a trace (after a rebuild, the index knows only what is there).
  uint64_t highest = segments.empty() ? 0 : segments.back();
  for (const Damage& d : missing) highest = std::max(highest, d.segment);
  // Compaction's removals are in DIR/RETIRED ([CMP-5]), which an index rebuild keeps; any other
  // gap is a segment lost without a trace.
  auto removed = ReadRetiredList(v->env(), v->dir());
  if (!removed.ok()) report->problems.push_back(removed.status().message());
  const std::vector<format::SegmentRange> compacted = removed.ok() ? *removed : std::vector<format::SegmentRange>();
  for (uint64_t n = 1; n < highest; n++) {
    if (present.count(n) || retired.count(n) || format::RangesContain(compacted, n)) continue;
    bool known = false;
    for (const Damage& d : missing) known |= d.segment == n;
    if (!known) {
      report->damage.push_back(Damage{n, 0, 0,
                                      "missing: the segments are numbered up to " + std::to_string(highest) +
                                          " and this one is neither in the directory, nor in the index, nor "
                                          "among those compaction removed (RETIRED)",
                                      {}, {}});
    }
  }
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
