#include "engine/mark.h"

#include <map>

#include "engine/segment_reader.h"
#include "format/recipe_format.h"

namespace bv::engine {

double SegmentUsage::live_fraction() const {
  const uint64_t body = file_bytes > format::kSegmentHeaderSize ? file_bytes - format::kSegmentHeaderSize : 0;
  if (body == 0) return 0;
  return std::min(1.0, static_cast<double>(live_bytes) / static_cast<double>(body));
}

Result<bool> RecipesLive(Index* index, uint64_t snapshot) {
  BV_ASSIGN_OR_RETURN(auto snap, index->GetSnapshot(snapshot));
  if (snap) return true;
  BV_ASSIGN_OR_RETURN(auto session, index->GetSession(snapshot));
  return session.has_value();
}

namespace {

// RecipesLive, remembering the last answer: recipe keys come grouped by snapshot.
class LiveOwners {
 public:
  explicit LiveOwners(Index* index) : index_(index) {}

  Result<bool> Live(uint64_t snapshot) {
    if (snapshot == last_ && last_ != 0) return last_live_;
    BV_ASSIGN_OR_RETURN(last_live_, RecipesLive(index_, snapshot));
    last_ = snapshot;
    return last_live_;
  }

 private:
  Index* index_;
  uint64_t last_ = 0;
  bool last_live_ = false;
};

}  // namespace

Result<MarkResult> Mark(Volume* volume) {
  EpochGate::Pass reading(volume->reads_gate());  // no segment it may read goes meanwhile
  Index* index = volume->index();
  MarkResult out;
  // Every live chunk is in `chunks`, so its count bounds the filter's load (an estimate; a low
  // one only raises the share of dead chunks kept).
  out.live = std::make_unique<LiveSet>(index->EstimatedChunks() * 5 / 4 + 1024);
  std::map<uint64_t, SegmentUsage> usage;
  SegmentReader reader(volume->segment_files(), 1 << 20);
  LiveOwners owners(index);
  BV_RETURN_IF_ERROR(index->ForEachRecipeKey(
      [&](uint64_t snapshot, uint16_t stream, uint32_t piece, const Location& loc) -> Status {
        BV_ASSIGN_OR_RETURN(bool live, owners.Live(snapshot));
        if (!live) return Status::Ok();  // a deleted snapshot's, or an aborted put's
        format::BlockHeader h;
        std::string_view payload;
        const std::string where = "snapshot " + format::SnapshotIdHex(snapshot) + " stream " + std::to_string(stream) +
                                  " recipe piece " + std::to_string(piece) + " (" + SegmentFiles::Name(loc.segment) +
                                  " offset " + std::to_string(loc.offset) + ")";
        Status rs = reader.ReadBlock(loc, &h, &payload);
        if (!rs.ok()) {
          return Status::Corruption(where + ": " + rs.message() +
                                    "; that snapshot cannot be restored, and with its piece unread compaction cannot "
                                    "tell what is live: delete the snapshot (or run `bvtool fsck` for the whole "
                                    "picture), then compact");
        }
        auto r = format::DecodeRecipe(payload);
        if (!r.ok()) return Status::Corruption(where + ": " + r.status().message());
        for (const format::RecipeEntry& e : r->entries) out.live->Add(e.chunk_id);
        out.references += r->entries.size();
        out.recipe_pieces++;
        usage[loc.segment].live_bytes += loc.total_size();
        return Status::Ok();
      }));
  BV_RETURN_IF_ERROR(index->ForEachSnapshot("", [&](const SnapshotEntry& e) {
    usage[e.commit.segment].live_bytes += e.commit.total_size();
    return true;
  }));
  BV_RETURN_IF_ERROR(index->ForEachChunk([&](const format::Id& id, const Location& loc) -> Status {
    if (out.live->MayContain(id)) usage[loc.segment].live_bytes += loc.total_size();
    return Status::Ok();
  }));
  BV_ASSIGN_OR_RETURN(std::vector<uint64_t> files, volume->segment_files()->List());
  for (uint64_t n : files) {
    BV_ASSIGN_OR_RETURN(auto state, index->GetSegment(n));
    if (state && state->retired) continue;
    SegmentUsage u = usage[n];
    u.segment = n;
    u.sealed = state && state->sealed;
    BV_ASSIGN_OR_RETURN(u.file_bytes, volume->segment_files()->FileSize(n));
    out.segments.push_back(u);
  }
  return out;
}

}  // namespace bv::engine
