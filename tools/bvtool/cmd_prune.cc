// bvtool prune (offline): a retention policy applied to a volume's sources, every decision shown,
// then the snapshots not kept removed (their chunks stay until compaction).
#include <cstdio>
#include <iostream>

#include "base/time_format.h"
#include "engine/prune.h"
#include "engine/snapshot_ref.h"
#include "tools/bvtool/commands.h"

namespace bv::tool {

using nlohmann::json;

namespace {

json PlanJson(const engine::PrunePlan& plan, size_t removed) {
  json snaps = json::array();
  size_t kept = 0;
  for (const engine::RetentionDecision& d : plan.decisions) {
    kept += d.keep;
    snaps.push_back({{"id", engine::SnapshotIdString(d.id)},
                     {"time", FormatTime(d.time_us)},
                     {"keep", d.keep},
                     {"reasons", d.reasons}});
  }
  return {{"source", plan.source}, {"snapshots", snaps}, {"kept", kept}, {"removed", removed}};
}

void PrintPlan(const engine::PrunePlan& plan) {
  std::printf("%s:\n", plan.source.c_str());
  for (const engine::RetentionDecision& d : plan.decisions) {
    std::string why;
    for (const std::string& r : d.reasons) why += (why.empty() ? "" : ", ") + r;
    std::printf("  %-6s  %s  %s  %s\n", d.keep ? "keep" : "remove", engine::SnapshotIdString(d.id).c_str(),
                FormatTime(d.time_us).c_str(), why.c_str());
  }
}

}  // namespace

int CmdPrune(const Common& c, const std::vector<std::string>& sources, const KeepOptions& keep, bool dry_run) {
  const engine::RetentionPolicy policy = Check(keep.Policy());
  auto v = OpenVolume(c, false);
  const auto plans = Check(engine::PlanPrune(v->index(), sources, policy, NowMicros()));
  json out = json::array();
  size_t total = 0;
  for (const engine::PrunePlan& plan : plans) {
    if (!c.json) PrintPlan(plan);
    const size_t removed = dry_run ? 0 : Check(engine::ApplyPrune(v.get(), plan, "pruned: " + policy.ToString()));
    total += dry_run ? plan.remove.size() : removed;
    if (c.json) out.push_back(PlanJson(plan, removed));
  }
  Check(v->Close());
  if (c.json) {
    std::cout << json{{"policy", policy.ToString()}, {"dry_run", dry_run}, {"sources", out}}.dump(2) << "\n";
  } else if (dry_run) {
    std::printf("would remove %zu snapshots of %zu sources (dry run: nothing changed)\n", total, plans.size());
  } else {
    std::printf("removed %zu snapshots of %zu sources; their chunks stay on disk until compaction\n", total,
                plans.size());
  }
  return 0;
}

}  // namespace bv::tool
