#include "engine/source_usage.h"

#include <algorithm>
#include <functional>
#include <vector>

#include "engine/live_set.h"
#include "engine/segment_reader.h"
#include "format/recipe_format.h"

namespace bv::engine {

namespace {

constexpr size_t kLookupBatch = 4096;  // chunk ids per Index::GetChunks
// A source that references at least 1/kScanShare of the volume's chunks has its sizes read from
// all of `chunks` in order rather than looked up one by one.
constexpr uint64_t kScanShare = 16;

// Calls `fn` for every chunk reference of every kept snapshot of `source`, in snapshot order.
// A snapshot deleted meanwhile has no recipe keys left and gives nothing.
Status ForEachReference(Volume* volume, SegmentReader* reader, const std::string& source,
                        const std::function<Status(const format::Id&)>& fn) {
  std::vector<SnapshotEntry> snapshots;
  BV_RETURN_IF_ERROR(volume->index()->ForEachSnapshot(source, [&](const SnapshotEntry& e) {
    if (e.record.source == source) snapshots.push_back(e);
    return true;
  }));
  for (const SnapshotEntry& s : snapshots) {
    for (size_t stream = 0; stream < s.record.streams.size(); stream++) {
      BV_RETURN_IF_ERROR(volume->index()->ForEachRecipe(
          s.record.id, static_cast<uint16_t>(stream), [&](uint32_t piece, uint64_t, const Location& loc) -> Status {
            format::BlockHeader h;
            std::string_view payload;
            Status rs = reader->ReadBlock(loc, &h, &payload);
            auto r = rs.ok() ? format::DecodeRecipe(payload) : Result<format::RecipePiece>(rs);
            if (!r.ok()) {
              return Status::Corruption("snapshot " + format::SnapshotIdHex(s.record.id) + " stream " +
                                        std::to_string(stream) + " recipe piece " + std::to_string(piece) + " (" +
                                        SegmentFiles::Name(loc.segment) + " offset " + std::to_string(loc.offset) +
                                        "): " + r.status().message() + "; run `bvtool fsck`");
            }
            for (const format::RecipeEntry& e : r->entries) BV_RETURN_IF_ERROR(fn(e.chunk_id));
            return Status::Ok();
          }));
    }
  }
  return Status::Ok();
}

// A filter for the distinct chunks of one source, sized for at most `ids` of them.
std::unique_ptr<LiveSet> SourceFilter(uint64_t ids) { return std::make_unique<LiveSet>(ids + 1024); }

// Adds the stored size of each distinct chunk of `source` to its figures (to unique_bytes too
// when `shared` says no other source references it), looking each one up.
Status CountByLookup(Volume* volume, SegmentReader* reader, const std::string& source, uint64_t distinct,
                     const LiveSet& shared, SourceUsage* u) {
  auto mine = SourceFilter(distinct);
  std::vector<format::Id> ids;
  auto count = [&]() -> Status {
    BV_ASSIGN_OR_RETURN(auto locations, volume->index()->GetChunks(ids));
    for (size_t i = 0; i < ids.size(); i++) {
      if (!locations[i]) continue;  // quarantined: it has no good copy to count
      u->stored_bytes += locations[i]->total_size();
      if (!shared.MayContain(ids[i])) u->unique_bytes += locations[i]->total_size();
    }
    ids.clear();
    return Status::Ok();
  };
  BV_RETURN_IF_ERROR(ForEachReference(volume, reader, source, [&](const format::Id& id) {
    if (mine->MayContain(id)) return Status::Ok();
    mine->Add(id);
    ids.push_back(id);
    return ids.size() == kLookupBatch ? count() : Status::Ok();
  }));
  return count();
}

// The same by reading all of `chunks` in order, for a source that references a large share of
// them: a lookup costs about 20 times what reading one entry in order does (docs/performance.md).
// Its filter is sized for every chunk, so that it holds few "maybe"s for chunks it was not given.
Status CountByScan(Volume* volume, SegmentReader* reader, const std::string& source, uint64_t chunks_max,
                   const LiveSet& shared, SourceUsage* u) {
  auto mine = SourceFilter(chunks_max);
  BV_RETURN_IF_ERROR(ForEachReference(volume, reader, source, [&](const format::Id& id) {
    mine->Add(id);
    return Status::Ok();
  }));
  return volume->index()->ForEachChunk([&](const format::Id& id, const Location& loc) {
    if (!mine->MayContain(id)) return Status::Ok();
    u->stored_bytes += loc.total_size();
    if (!shared.MayContain(id)) u->unique_bytes += loc.total_size();
    return Status::Ok();
  });
}

}  // namespace

Result<std::map<std::string, SourceUsage>> UsageBySource(Volume* volume) {
  EpochGate::Pass reading(volume->reads_gate());  // no segment it reads goes meanwhile
  Index* index = volume->index();
  std::map<std::string, SourceUsage> out;
  BV_RETURN_IF_ERROR(index->ForEachSnapshot("", [&](const SnapshotEntry& e) {
    SourceUsage& s = out[e.record.source];
    s.snapshots++;
    s.logical_bytes += e.record.logical_bytes();
    s.new_bytes += e.record.new_bytes;
    return true;
  }));
  SegmentReader reader(volume->segment_files(), 1 << 20);
  const uint64_t chunks = index->EstimatedChunks();
  const uint64_t chunks_max = chunks * 5 / 4 + 1024;

  // First pass: which chunks more than one source references, and how many each references.
  LiveSet seen(chunks_max), shared(chunks_max);
  std::map<std::string, uint64_t> distinct;
  for (const auto& [source, u] : out) {
    const uint64_t references_max = u.logical_bytes / std::max<uint32_t>(volume->params().chunk_min, 1) + u.snapshots;
    auto mine = SourceFilter(std::min(chunks_max, references_max));
    uint64_t& n = distinct[source];
    BV_RETURN_IF_ERROR(ForEachReference(volume, &reader, source, [&](const format::Id& id) {
      if (mine->MayContain(id)) return Status::Ok();
      mine->Add(id);
      n++;
      if (seen.MayContain(id)) {
        shared.Add(id);
      } else {
        seen.Add(id);
      }
      return Status::Ok();
    }));
  }

  // Second pass: the stored size of each source's distinct chunks.
  for (auto& [source, u] : out) {
    const uint64_t n = distinct[source];
    BV_RETURN_IF_ERROR(n * kScanShare >= chunks ? CountByScan(volume, &reader, source, chunks_max, shared, &u)
                                                : CountByLookup(volume, &reader, source, n, shared, &u));
  }
  return out;
}

}  // namespace bv::engine
