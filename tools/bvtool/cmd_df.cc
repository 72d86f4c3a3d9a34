// bvtool df: the space a volume takes, what of it kept snapshots need, what compaction would
// give back, and what each source holds (engine/source_usage.h). Offline and through bvd (DF).
#include <cstdio>
#include <iostream>
#include <optional>
#include <utility>

#include "engine/compact.h"
#include "engine/source_usage.h"
#include "tools/bvtool/commands.h"
#include "tools/bvtool/reply_fields.h"

namespace bv::tool {

using nlohmann::json;

namespace {

struct DfFigures {
  uint64_t disk = 0, live = 0, reclaimable = 0, segment_count = 0;
  std::optional<double> threshold;       // offline only: the one `reclaimable` assumes
  std::optional<json> segments;          // offline only: each segment's bytes and live bytes
  std::vector<std::pair<std::string, engine::SourceUsage>> sources;
  uint64_t debt() const { return disk - live; }
};

int PrintDf(const Common& c, const DfFigures& f) {
  if (c.json) {
    json per_source = json::array();
    for (const auto& [name, s] : f.sources) {
      per_source.push_back({{"source", name}, {"snapshots", s.snapshots}, {"logical_bytes", s.logical_bytes},
                            {"new_bytes", s.new_bytes}, {"stored_bytes", s.stored_bytes},
                            {"unique_bytes", s.unique_bytes}});
    }
    json out = {{"disk_bytes", f.disk},
                {"live_bytes", f.live},
                {"compaction_debt_bytes", f.debt()},
                {"reclaimable_bytes", f.reclaimable},
                {"segment_count", f.segment_count},
                {"sources", per_source}};
    if (f.threshold) out["threshold"] = *f.threshold;
    if (f.segments) out["segments"] = *f.segments;
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("on disk      %s in %llu segments\n", Human(f.disk).c_str(),
              static_cast<unsigned long long>(f.segment_count));
  std::printf("live         %s (%s)\n", Human(f.live).c_str(), Percent(f.live, f.disk).c_str());
  std::printf("not needed   %s: compaction debt\n", Human(f.debt()).c_str());
  std::printf("reclaimable  %s by `bvtool compact`", Human(f.reclaimable).c_str());
  if (f.threshold) {
    std::printf(" (segments under %s live)", Percent(static_cast<uint64_t>(*f.threshold * 1000), 1000).c_str());
  }
  std::printf("\n");
  if (f.sources.empty()) return 0;
  std::printf("\n%-32s %9s %10s %10s %10s %10s\n", "source", "snapshots", "logical", "new", "stored", "unique");
  for (const auto& [name, s] : f.sources) {
    std::printf("%-32s %9llu %10s %10s %10s %10s\n", name.c_str(), static_cast<unsigned long long>(s.snapshots),
                Human(s.logical_bytes).c_str(), Human(s.new_bytes).c_str(), Human(s.stored_bytes).c_str(),
                Human(s.unique_bytes).c_str());
  }
  std::printf("\nnew: written when taken; stored: what its snapshots need on disk now, shared chunks included;\n"
              "unique: what no other source needs, given back by pruning all of it and compacting\n");
  return 0;
}

}  // namespace

int RemoteDf(const Common& c, const Remote& remote) {
  std::vector<server::Reply> lines;
  const server::Reply ok = Exchange(remote, "DF", &lines);
  DfFigures f;
  f.disk = FieldNumber(ok, "disk");
  f.live = FieldNumber(ok, "live");
  f.reclaimable = FieldNumber(ok, "reclaimable");
  f.segment_count = FieldNumber(ok, "segments");
  for (const server::Reply& r : lines) {
    if (r.kind != "SOURCE") continue;
    engine::SourceUsage s;
    s.snapshots = FieldNumber(r, "snapshots");
    s.logical_bytes = FieldNumber(r, "logical");
    s.new_bytes = FieldNumber(r, "new");
    s.stored_bytes = FieldNumber(r, "stored");
    s.unique_bytes = FieldNumber(r, "unique");
    f.sources.emplace_back(FieldText(r, "source"), s);
  }
  return PrintDf(c, f);
}

int CmdDf(const Common& c) {
  auto v = OpenVolumeToRead(c, false);
  engine::CompactOptions opts;
  opts.dry_run = true;
  const engine::CompactReport r = Check(engine::Compact(v.get(), opts));
  const auto sources = Check(engine::UsageBySource(v.get()));
  Check(v->Close());
  DfFigures f;
  f.disk = r.disk_bytes;
  f.live = r.live_bytes;
  f.reclaimable = r.reclaimable_bytes;
  f.segment_count = r.segments.size();
  f.threshold = opts.threshold;
  f.segments = SegmentsJson(r.segments);
  f.sources.assign(sources.begin(), sources.end());
  return PrintDf(c, f);
}

}  // namespace bv::tool
