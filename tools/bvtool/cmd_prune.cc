// bvtool prune: a retention policy applied to a volume's sources (offline), or through bvd's
// PRUNE (--server); every decision shown, then the snapshots not kept removed (their chunks stay
// until compaction).
#include <cstdio>
#include <iostream>
#include <sstream>

#include "base/time_format.h"
#include "engine/prune.h"
#include "engine/snapshot_ref.h"
#include "tools/bvtool/commands.h"
#include "tools/bvtool/reply_fields.h"

namespace bv::tool {

using nlohmann::json;

namespace {

const uint32_t kDefaultThresholdPct = static_cast<uint32_t>(engine::kDefaultCompactThreshold * 100 + 0.5);

struct Decision {
  std::string id, time;
  bool keep = false;
  std::vector<std::string> reasons;
};

struct SourceReport {
  std::string source;
  std::vector<Decision> decisions;  // newest first
};

SourceReport FromPlan(const engine::PrunePlan& plan) {
  SourceReport out{plan.source, {}};
  for (const engine::RetentionDecision& d : plan.decisions) {
    out.decisions.push_back(Decision{engine::SnapshotIdString(d.id), FormatTime(d.time_us), d.keep, d.reasons});
  }
  return out;
}

void PrintSource(const SourceReport& s) {
  std::printf("%s:\n", s.source.c_str());
  for (const Decision& d : s.decisions) {
    std::string why;
    for (const std::string& r : d.reasons) why += (why.empty() ? "" : ", ") + r;
    std::printf("  %-6s  %s  %s  %s\n", d.keep ? "keep" : "remove", d.id.c_str(), d.time.c_str(), why.c_str());
  }
}

// The report of a whole prune, and its exit status. `removed`: what the prune removed in all (a
// snapshot another deletion took first is not counted); per source, what the plan removes.
// Printed unless --json; returned as JSON.
json Report(const Common& c, const std::string& policy, const std::vector<SourceReport>& sources, bool dry_run,
            size_t removed, bool compacting) {
  size_t planned = 0;
  json out = json::array();
  for (const SourceReport& s : sources) {
    json snaps = json::array();
    size_t kept = 0;
    for (const Decision& d : s.decisions) {
      kept += d.keep;
      snaps.push_back({{"id", d.id}, {"time", d.time}, {"keep", d.keep}, {"reasons", d.reasons}});
    }
    planned += s.decisions.size() - kept;
    out.push_back({{"source", s.source}, {"snapshots", snaps}, {"kept", kept},
                   {"removed", dry_run ? 0 : s.decisions.size() - kept}});
  }
  const json doc{{"policy", policy}, {"dry_run", dry_run}, {"removed", removed}, {"sources", out}};
  if (c.json) return doc;
  for (const SourceReport& s : sources) PrintSource(s);
  if (dry_run) {
    std::printf("would remove %zu snapshots of %zu sources (dry run: nothing changed)\n", planned, sources.size());
  } else {
    std::printf("removed %zu snapshots of %zu sources%s\n", removed, sources.size(),
                compacting ? "" : "; their chunks stay on disk until compaction");
  }
  return doc;
}

void RefuseDryCompact(bool dry_run, bool compact) {
  if (dry_run && compact) {
    Fail(Status::InvalidArgument("--compact with --dry-run: what compaction frees depends on the prune; run prune "
                                 "--dry-run, and compact --dry-run after the prune"));
  }
}

std::vector<std::string> SplitReasons(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string r; std::getline(in, r, ',');) out.push_back(r);
  return out;
}

}  // namespace

int CmdPrune(const Common& c, const std::vector<std::string>& sources, const KeepOptions& keep, bool dry_run,
             bool compact) {
  RefuseDryCompact(dry_run, compact);
  const engine::RetentionPolicy policy = Check(keep.Policy());
  const engine::CompactOptions compact_opts = CompactOptionsOf(c, false, kDefaultThresholdPct, 0);
  auto v = OpenVolume(c, false);
  std::vector<SourceReport> report;
  const size_t removed = Check(engine::Prune(
      v.get(), sources, [&](const std::string&) { return &policy; }, NowMicros(), dry_run,
      [&](const engine::PrunePlan& plan) {
        report.push_back(FromPlan(plan));
        return Status::Ok();
      }));
  json doc = Report(c, policy.ToString(), report, dry_run, removed, compact);
  if (compact) {
    std::fflush(stdout);  // the prune's lines before the compaction's progress
    auto compacted = engine::Compact(v.get(), compact_opts);
    if (!compacted.ok()) {  // the prune stands: say so before failing
      if (c.json) std::cout << doc.dump(2) << "\n";
      Fail(compacted.status());
    }
    doc["compact"] = CompactOutcome(c, compact_opts, *compacted);
  }
  Check(v->Close());
  if (c.json) std::cout << doc.dump(2) << "\n";
  return 0;
}

int RemotePrune(const Common& c, const Remote& remote, const std::vector<std::string>& sources,
                const KeepOptions& keep, bool dry_run, bool compact) {
  RefuseDryCompact(dry_run, compact);
  if (sources.size() > server::kArgsMax) {
    Fail(Status::InvalidArgument("prune --server names at most " + std::to_string(server::kArgsMax) +
                                 " sources at a time (none: every source)"));
  }
  std::string line = "PRUNE";
  for (const std::string& s : sources) line += " " + Arg(s);
  const auto rules = keep.Rules();
  if (!rules.empty()) {
    Check(keep.Policy());  // a bad option is said here, before connecting
  }
  for (const auto& [rule, value] : rules) line += " " + std::string(rule->key) + "=" + Arg(value);
  if (dry_run) line += " dry_run=true";
  auto client = Check(Client::Connect(remote));
  Check(client->SendLine(line));
  std::vector<SourceReport> report;
  size_t removed = 0;
  for (;;) {
    auto r = Check(client->ReadReply());
    if (r.kind != "DECISION") {
      removed = FieldNumber(r, "removed");
      break;
    }
    const std::string source = FieldText(r, "source");
    if (report.empty() || report.back().source != source) report.push_back(SourceReport{source, {}});
    report.back().decisions.push_back(Decision{FieldText(r, "snapshot"), FieldText(r, "time"),
                                               FieldText(r, "keep") == "true", SplitReasons(FieldText(r, "reasons"))});
  }
  json doc = Report(c, rules.empty() ? "as configured" : Check(keep.Policy()).ToString(), report, dry_run, removed, compact);
  if (compact) {
    std::fflush(stdout);
    doc["compact"] = RemoteCompactOutcome(c, remote, false, kDefaultThresholdPct, 0);
  }
  if (c.json) std::cout << doc.dump(2) << "\n";
  return 0;
}

}  // namespace bv::tool
