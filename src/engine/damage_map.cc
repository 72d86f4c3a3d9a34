#include "engine/damage_map.h"

#include <algorithm>
#include <set>

#include "format/recipe_format.h"

namespace bv::engine {

namespace {

std::string SegName(uint64_t n) { return SegmentFiles::Name(n); }

bool InDamage(const CheckReport& report, const Location& loc) {
  for (const Damage& d : report.damage) {
    if (loc.segment == d.segment && loc.offset < d.end && loc.offset + loc.total_size() > d.offset) return true;
  }
  return false;
}

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

}  // namespace

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

}  // namespace bv::engine
