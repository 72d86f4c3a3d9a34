// bvtool inspect: segments, or every block of one.
#include "tools/bvtool/commands.h"

#include <cstdio>
#include <iostream>

#include "engine/check.h"
#include "engine/chunk_id.h"
#include "engine/segment_scan.h"
#include "engine/snapshot_ref.h"

namespace bv::tool {

using engine::ResolveSnapshot;
using engine::SnapshotIdString;

using nlohmann::json;

namespace {

// One line (or JSON object) per segment: its size, state and block count.
void ListSegments(const Common& c, engine::Volume* v, json* out) {
  engine::SegmentFiles* files = v->segment_files();
  if (!c.json) std::printf("%-20s  %12s  %-8s  %10s\n", "SEGMENT", "BYTES", "STATE", "BLOCKS");
  for (uint64_t n : Check(files->List())) {
    auto st = Check(v->index()->GetSegment(n));
    uint64_t size = Check(Check(files->Open(n))->Size());
    const char* state = !st ? "unindexed" : st->sealed ? "sealed" : "active";
    uint64_t blocks = st ? st->blocks : 0;
    if (c.json) {
      out->push_back({{"segment", format::SegmentFileName(n)}, {"bytes", size}, {"state", state}, {"blocks", blocks}});
    } else {
      std::printf("%-20s  %12llu  %-8s  %10llu\n", format::SegmentFileName(n).c_str(),
                  static_cast<unsigned long long>(size), state, static_cast<unsigned long long>(blocks));
    }
  }
}

std::string BlockIdText(const format::BlockHeader& h) {
  if (h.type == format::BlockType::kData) return engine::ChunkIdHex(h.id);
  if (h.type == format::BlockType::kRecipe || h.type == format::BlockType::kSnapshotCommit ||
      h.type == format::BlockType::kSnapshotDeletion) {
    return SnapshotIdString(format::SnapshotIdFromBlockId(h.id));
  }
  return "";
}

// Every block of one segment, and every stretch that does not read.
void ListBlocks(const Common& c, engine::Volume* v, uint64_t num, json* out) {
  auto scan = Check(engine::SegmentScan::Open(v->segment_files(), num, /*writable=*/false));
  if (!c.json) std::printf("%12s  %-8s  %10s  %10s  %-5s  %-16s  %s\n", "OFFSET", "TYPE", "STORED", "RAW", "FLAGS", "ID", "STATE");
  auto on_block = [&](const format::ScannedBlock& b) {
    const auto& h = b.header;
    const std::string flags = std::string(h.compressed() ? "z" : "-") + (h.encrypted() ? "e" : "-");
    const std::string id = BlockIdText(h);
    if (c.json) {
      out->push_back({{"offset", b.offset}, {"type", format::BlockTypeName(h.type)}, {"stored_len", h.stored_len},
                      {"raw_len", h.raw_len}, {"flags", flags}, {"id", id}, {"state", "ok"}});
    } else {
      std::printf("%12llu  %-8s  %10u  %10u  %-5s  %-16s  ok\n", static_cast<unsigned long long>(b.offset),
                  format::BlockTypeName(h.type), h.stored_len, h.raw_len, flags.c_str(), id.c_str());
    }
    return Status::Ok();
  };
  auto on_stop = [&](const engine::ScanStopInfo& st) -> Result<bool> {
    const char* kind = st.stop == format::ScanStop::kTorn ? "torn-tail" : "corrupt";
    if (c.json) {
      out->push_back({{"offset", st.offset}, {"state", kind}, {"problem", st.problem.message()}});
    } else {
      std::printf("%12llu  %-8s  %s\n", static_cast<unsigned long long>(st.offset), kind, st.problem.message().c_str());
    }
    return true;
  };
  Check(scan->Blocks(format::kSegmentHeaderSize, /*read_payloads=*/true, on_block, on_stop).status());
}

}  // namespace

int CmdInspect(const Common& c, const std::string& segment) {
  auto v = OpenVolumeToRead(c, false, engine::RecoverMode{false, false});
  json out = json::array();
  if (segment.empty()) {
    ListSegments(c, v.get(), &out);
  } else {
    uint64_t num = 0;
    if (!format::ParseSegmentFileName(segment, &num)) {
      try {
        num = std::stoull(segment);
      } catch (const std::exception&) {
        Fail(Status::InvalidArgument("segment '" + segment + "': give a number or a seg-NNNNNNNNNNNN.bvs name"));
      }
    }
    ListBlocks(c, v.get(), num, &out);
  }
  if (c.json) std::cout << out.dump(2) << "\n";
  Check(v->Close());
  return 0;
}

}  // namespace bv::tool
