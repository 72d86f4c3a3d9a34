// bvtool compact: gives back the space of what no kept snapshot needs (engine/compact.h).
#include <cstdio>
#include <iostream>
#include <map>

#include "engine/compact.h"
#include "tools/bvtool/commands.h"
#include "tools/bvtool/reply_fields.h"

namespace bv::tool {

using nlohmann::json;

json SegmentsJson(const std::vector<engine::SegmentUsage>& segments) {
  json out = json::array();
  for (const engine::SegmentUsage& u : segments) {
    out.push_back({{"segment", u.segment}, {"bytes", u.file_bytes}, {"live_bytes", std::min(u.live_bytes, u.file_bytes)},
                   {"sealed", u.sealed}});
  }
  return out;
}

std::string Percent(uint64_t part, uint64_t whole) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole));
  return buf;
}

namespace {

void PrintChosen(const std::vector<engine::SegmentUsage>& chosen) {
  for (const engine::SegmentUsage& u : chosen) {
    std::printf("  %s  %s  %s live\n", engine::SegmentFiles::Name(u.segment).c_str(), Human(u.file_bytes).c_str(),
                Percent(std::min(u.live_bytes, u.file_bytes), u.file_bytes).c_str());
  }
}

engine::SegmentUsage UsageOf(const server::Reply& r) {
  engine::SegmentUsage u;
  u.segment = FieldNumber(r, "segment");
  u.file_bytes = FieldNumber(r, "bytes");
  u.live_bytes = FieldNumber(r, "live");
  u.sealed = true;
  return u;
}

}  // namespace

server::Reply Exchange(const Remote& remote, const std::string& line, std::vector<server::Reply>* lines) {
  auto client = Check(Client::Connect(remote));
  Check(client->SendLine(line));
  for (;;) {
    auto r = Check(client->ReadReply());
    if (r.kind == "OK") return r;
    lines->push_back(std::move(r));
  }
}

engine::CompactOptions CompactOptionsOf(const Common& c, bool dry_run, uint32_t threshold_pct, double max_rate_mb) {
  engine::CompactOptions opts;
  opts.dry_run = dry_run;
  opts.threshold = static_cast<double>(threshold_pct) / 100.0;
  opts.max_rate = static_cast<uint64_t>(max_rate_mb * 1e6);
  Check(engine::CheckCompactOptions(opts));
  if (!c.json) {
    opts.on_segment = [](const engine::SegmentUsage& u, bool removed) {
      std::fprintf(stderr, "%s %s (%s, %s live)\n", removed ? "removed" : "left", engine::SegmentFiles::Name(u.segment).c_str(),
                   Human(u.file_bytes).c_str(), Percent(std::min(u.live_bytes, u.file_bytes), u.file_bytes).c_str());
    };
  }
  return opts;
}

json CompactOutcome(const Common& c, const engine::CompactOptions& opts, const engine::CompactReport& r) {
  if (!c.json) {
    for (const std::string& n : r.notes) std::printf("note: %s\n", n.c_str());
    if (opts.dry_run) {
      std::printf("would rewrite %zu of %zu segments and free %s of %s (%s live); dry run: nothing changed\n",
                  r.chosen.size(), r.segments.size(), Human(r.reclaimable_bytes).c_str(), Human(r.disk_bytes).c_str(),
                  Human(r.live_bytes).c_str());
      PrintChosen(r.chosen);
    } else {
      std::printf("removed %llu of %zu segments chosen, copied %s forward, freed %s%s\n",
                  static_cast<unsigned long long>(r.segments_removed), r.chosen.size(), Human(r.bytes_copied).c_str(),
                  Human(r.bytes_freed).c_str(), r.stopped ? " (stopped: the next compaction goes on)" : "");
    }
  }
  return json{{"dry_run", opts.dry_run},
              {"threshold", opts.threshold},
              {"disk_bytes", r.disk_bytes},
              {"live_bytes", r.live_bytes},
              {"reclaimable_bytes", r.reclaimable_bytes},
              {"rewrite", SegmentsJson(r.chosen)},
              {"segments_removed", r.segments_removed},
              {"blocks_copied", r.blocks_copied},
              {"bytes_copied", r.bytes_copied},
              {"bytes_freed", r.bytes_freed},
              {"deletions_carried", r.deletions_carried},
              {"references_marked", r.references},
              {"mark_memory_bytes", r.mark_memory_bytes},
              {"stopped", r.stopped},
              {"notes", r.notes}};
}

int CmdCompact(const Common& c, bool dry_run, uint32_t threshold_pct, double max_rate_mb) {
  const engine::CompactOptions opts = CompactOptionsOf(c, dry_run, threshold_pct, max_rate_mb);
  auto v = dry_run ? OpenVolumeToRead(c, false) : OpenVolume(c, false);
  const engine::CompactReport r = Check(engine::Compact(v.get(), opts));
  Check(v->Close());
  const json out = CompactOutcome(c, opts, r);
  if (c.json) std::cout << out.dump(2) << "\n";
  return 0;
}

json RemoteCompactOutcome(const Common& c, const Remote& remote, bool dry_run, uint32_t threshold_pct, double max_rate_mb) {
  std::string line = "COMPACT threshold=" + std::to_string(threshold_pct);
  if (max_rate_mb > 0) line += " max_rate=" + std::to_string(static_cast<uint64_t>(max_rate_mb * 1e6));
  if (dry_run) line += " dry_run=true";
  std::vector<server::Reply> lines;
  const server::Reply ok = Exchange(remote, line, &lines);
  std::vector<engine::SegmentUsage> segments;
  std::vector<std::string> notes;
  for (const server::Reply& r : lines) {
    if (r.kind == "SEGMENT") segments.push_back(UsageOf(r));
    if (r.kind == "NOTE") notes.push_back(FieldText(r, "text"));
  }
  if (!c.json) {
    for (const std::string& n : notes) std::printf("note: %s\n", n.c_str());
    if (dry_run) {
      std::printf("would rewrite %zu segments and free %s of %s (%s live); dry run: nothing changed\n",
                  segments.size(), Human(FieldNumber(ok, "reclaimable")).c_str(), Human(FieldNumber(ok, "disk")).c_str(),
                  Human(FieldNumber(ok, "live")).c_str());
      PrintChosen(segments);
    } else {
      std::printf("removed %llu of %llu segments chosen, copied %s forward, freed %s%s\n",
                  static_cast<unsigned long long>(FieldNumber(ok, "removed")),
                  static_cast<unsigned long long>(FieldNumber(ok, "chosen")), Human(FieldNumber(ok, "copied")).c_str(),
                  Human(FieldNumber(ok, "freed")).c_str(),
                  FieldText(ok, "stopped") == "true" ? " (stopped: the next compaction goes on)" : "");
    }
  }
  return json{{"dry_run", dry_run},
              {"threshold", static_cast<double>(threshold_pct) / 100.0},
              {"disk_bytes", FieldNumber(ok, "disk")},
              {"live_bytes", FieldNumber(ok, "live")},
              {"reclaimable_bytes", FieldNumber(ok, "reclaimable")},
              {"rewrite", SegmentsJson(segments)},
              {"segments_removed", FieldNumber(ok, "removed")},
              {"bytes_copied", FieldNumber(ok, "copied")},
              {"bytes_freed", FieldNumber(ok, "freed")},
              {"stopped", FieldText(ok, "stopped") == "true"},
              {"notes", notes}};
}

int RemoteCompact(const Common& c, const Remote& remote, bool dry_run, uint32_t threshold_pct, double max_rate_mb) {
  const json out = RemoteCompactOutcome(c, remote, dry_run, threshold_pct, max_rate_mb);
  if (c.json) std::cout << out.dump(2) << "\n";
  return 0;
}

}  // namespace bv::tool
