// bvtool inspect: segments, or every block of one.
#include "tools/bvtool/commands.h"

#include <cstdio>
#include <iostream>

#include "engine/check.h"
#include "engine/file_source.h"
#include "engine/recovery.h"
#include "format/segment_scanner.h"
#include "engine/snapshot_ref.h"

namespace bv::tool {

using engine::ResolveSnapshot;
using engine::SnapshotIdString;

using nlohmann::json;

int CmdInspect(const Common& c, const std::string& segment) {
  auto v = OpenVolumeToRead(c, false, engine::RecoverMode{false, false});
  auto segments = Check(engine::ListSegments(v->segments_dir()));
  json out = json::array();
  if (segment.empty()) {
    if (!c.json) std::printf("%-20s  %12s  %-8s  %10s\n", "SEGMENT", "BYTES", "STATE", "BLOCKS");
    for (uint64_t n : segments) {
      auto st = Check(v->index()->GetSegment(n));
      auto f = Check(v->env()->Open(v->segments_dir() + "/" + format::SegmentFileName(n), io::OpenMode::kRead));
      uint64_t size = Check(f->Size());
      const char* state = !st ? "unindexed" : st->sealed ? "sealed" : "active";
      uint64_t blocks = st ? st->blocks : 0;
      if (c.json) {
        out.push_back({{"segment", format::SegmentFileName(n)}, {"bytes", size}, {"state", state}, {"blocks", blocks}});
      } else {
        std::printf("%-20s  %12llu  %-8s  %10llu\n", format::SegmentFileName(n).c_str(),
                    static_cast<unsigned long long>(size), state, static_cast<unsigned long long>(blocks));
      }
    }
  } else {
    uint64_t num = 0;
    if (!format::ParseSegmentFileName(segment, &num)) {
      try {
        num = std::stoull(segment);
      } catch (const std::exception&) {
        Fail(Status::InvalidArgument("segment '" + segment + "': give a number or a seg-NNNNNNNNNNNN.bvs name"));
      }
    }
    auto f = Check(v->env()->Open(v->segments_dir() + "/" + format::SegmentFileName(num), io::OpenMode::kRead));
    engine::FileSource src(f.get());
    Check(src.Init());
    format::SegmentScanner scanner(&src, format::kSegmentHeaderSize, true);
    if (!c.json) std::printf("%12s  %-8s  %10s  %10s  %-5s  %-16s  %s\n", "OFFSET", "TYPE", "STORED", "RAW", "FLAGS", "ID", "STATE");
    for (;;) {
      auto b = Check(scanner.Next());
      if (!b) {
        if (scanner.stop() == format::ScanStop::kEnd) break;
        const char* kind = scanner.stop() == format::ScanStop::kTorn ? "torn-tail" : "corrupt";
        if (c.json) {
          out.push_back({{"offset", scanner.stop_offset()}, {"state", kind}, {"problem", scanner.problem().message()}});
        } else {
          std::printf("%12llu  %-8s  %s\n", static_cast<unsigned long long>(scanner.stop_offset()), kind,
                      scanner.problem().message().c_str());
        }
        if (scanner.stop() != format::ScanStop::kCorrupt) break;
        scanner.Resume();
        continue;
      }
      const auto& h = b->header;
      std::string flags = std::string(h.compressed() ? "z" : "-") + (h.encrypted() ? "e" : "-");
      std::string id = h.type == format::BlockType::kData ? engine::ShortId(h.id)
                       : (h.type == format::BlockType::kRecipe || h.type == format::BlockType::kSnapshotCommit ||
                          h.type == format::BlockType::kSnapshotDeletion)
                           ? SnapshotIdString(format::SnapshotIdFromBlockId(h.id))
                           : "";
      if (c.json) {
        out.push_back({{"offset", b->offset}, {"type", format::BlockTypeName(h.type)}, {"stored_len", h.stored_len},
                       {"raw_len", h.raw_len}, {"flags", flags}, {"id", id}, {"state", "ok"}});
      } else {
        std::printf("%12llu  %-8s  %10u  %10u  %-5s  %-16s  ok\n", static_cast<unsigned long long>(b->offset),
                    format::BlockTypeName(h.type), h.stored_len, h.raw_len, flags.c_str(), id.c_str());
      }
    }
  }
  if (c.json) std::cout << out.dump(2) << "\n";
  Check(v->Close());
  return 0;
}

}  // namespace bv::tool
