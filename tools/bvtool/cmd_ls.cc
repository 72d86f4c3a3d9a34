// bvtool ls: snapshots, newest first.
#include "tools/bvtool/commands.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <iostream>

#include "base/time_format.h"
#include "engine/snapshot_ref.h"

namespace bv::tool {

using engine::ResolveSnapshot;
using engine::SnapshotIdString;

using nlohmann::json;

int CmdLs(const Common& c, const std::string& source, const std::string& since, const std::string& until) {
  const int64_t from = since.empty() ? INT64_MIN : Check(ParseTime(since));
  const int64_t to = until.empty() ? INT64_MAX : Check(ParseTime(until));
  auto v = OpenVolumeToRead(c, false);
  std::vector<format::SnapshotRecord> all;
  Check(v->index()->ForEachSnapshot(source, [&](const engine::SnapshotEntry& e) {
    if (e.record.time_us >= from && e.record.time_us <= to) all.push_back(e.record);
    return true;
  }));
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.time_us > b.time_us; });
  if (c.json) {
    json out = json::array();
    for (const auto& r : all) out.push_back(SnapshotJson(r));
    std::cout << out.dump(2) << "\n";
  } else {
    std::printf("%-16s  %-20s  %-24s  %10s  %10s  %10s  %s\n", "ID", "TIME", "SOURCE", "LOGICAL", "STORED", "NEW", "LABEL");
    for (const auto& r : all) {
      // Whole seconds in the table; --json has the exact time.
      std::printf("%-16s  %-20s  %-24s  %10s  %10s  %10s  %s\n", SnapshotIdString(r.id).c_str(),
                  FormatTime(r.time_us - r.time_us % 1000000).c_str(), r.source.c_str(), Human(r.logical_bytes()).c_str(),
                  Human(r.stored_bytes).c_str(), Human(r.new_bytes).c_str(), r.label.c_str());
    }
  }
  Check(v->Close());
  return 0;
}

}  // namespace bv::tool
