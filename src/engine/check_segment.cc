#include "engine/check_segment.h"

#include <algorithm>
#include <set>

#include "engine/retired_list.h"
#include "engine/segment_scan.h"
#include "format/recipe_format.h"
#include "format/snapshot_format.h"

namespace bv::engine {

namespace {

std::string SegName(uint64_t n) { return SegmentFiles::Name(n); }

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

}  // namespace

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

Status CheckSegment(Volume* v, uint64_t num, bool is_last, const CheckOptions& opts, CheckReport* report) {
  // The index's state before the scan's size: what the index records as written is then inside
  // the file as scanned, even while a writer appends to it.
  BV_ASSIGN_OR_RETURN(auto state, v->index()->GetSegment(num));
  BV_ASSIGN_OR_RETURN(auto scan, SegmentScan::Open(v->segment_files(), num, /*writable=*/false));
  report->segments++;
  report->bytes += scan->size();
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
    // The unacknowledged tail of the newest segment: a dead writer's (recovery noted it), or a
    // live one's, which may not have synced this segment even once.
    if (is_last && (!state || (!state->sealed && st.offset >= state->indexed_through))) return false;
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

Result<std::map<uint64_t, SegmentState>> SegmentStates(Volume* v) {
  std::map<uint64_t, SegmentState> states;
  BV_RETURN_IF_ERROR(v->index()->ForEachSegment([&](uint64_t n, const SegmentState& st) {
    states.emplace(n, st);
    return Status::Ok();
  }));
  return states;
}

Status FindMissingSegments(Volume* v, const std::map<uint64_t, SegmentState>& states,
                           const std::vector<uint64_t>& files, CheckReport* report) {
  // Index entries must point at segments that exist.
  std::set<uint64_t> present(files.begin(), files.end());
  std::vector<Damage> missing;
  for (const auto& [n, st] : states) {
    if (!present.count(n) && !st.retired) {
      missing.push_back(Damage{n, 0, std::max<uint64_t>(st.indexed_through, format::kSegmentHeaderSize),
                               "in the index but the file is missing", {}, {}});
    }
  }
  for (Damage& d : missing) {
    BV_RETURN_IF_ERROR(ChunksInRange(v, &d, std::nullopt));
    report->damage.push_back(std::move(d));
  }
  // Numbers are given out in order and never twice: one that neither the directory nor the index
  // has is a segment lost without a trace (after a rebuild, the index knows only what is there).
  uint64_t highest = files.empty() ? 0 : files.back();
  for (const Damage& d : missing) highest = std::max(highest, d.segment);
  // Compaction's removals are in DIR/RETIRED ([CMP-5]), which an index rebuild keeps; any other
  // gap is a segment lost without a trace.
  auto removed = ReadRetiredList(v->env(), v->dir());
  if (!removed.ok()) report->problems.push_back(removed.status().message());
  const std::vector<format::SegmentRange> compacted = removed.ok() ? *removed : std::vector<format::SegmentRange>();
  for (uint64_t n = 1; n < highest; n++) {
    auto st = states.find(n);
    if (present.count(n) || (st != states.end() && st->second.retired) || format::RangesContain(compacted, n)) continue;
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
  return Status::Ok();
}

}  // namespace bv::engine
