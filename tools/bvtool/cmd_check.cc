// bvtool verify and fsck: checking a volume against its index, its keys and its stream hashes.
#include "tools/bvtool/commands.h"

#include <cstdio>
#include <iostream>

#include "engine/check.h"
#include "engine/snapshot_ref.h"

namespace bv::tool {

using engine::ResolveSnapshot;
using engine::SnapshotIdString;

using nlohmann::json;

namespace {

void PrintReport(const Common& c, const engine::CheckReport& r, const char* verb) {
  if (c.json) {
    json damage = json::array();
    for (const auto& d : r.damage) {
      json snaps = json::array();
      for (uint64_t s : d.snapshots) snaps.push_back(SnapshotIdString(s));
      json lost = json::array(), maybe_lost = json::array();
      for (uint64_t s : d.lost) lost.push_back(SnapshotIdString(s));
      for (uint64_t s : d.maybe_lost) maybe_lost.push_back(SnapshotIdString(s));
      damage.push_back({{"segment", format::SegmentFileName(d.segment)}, {"offset", d.offset}, {"end", d.end},
                        {"problem", d.what}, {"chunks", d.chunks.size()}, {"snapshots", snaps},
                        {"lost_snapshots", lost}, {"maybe_lost_snapshots", maybe_lost}});
    }
    std::cout << json{{"segments", r.segments}, {"blocks", r.blocks}, {"bytes", r.bytes},
                      {"snapshots_checked", r.snapshots_checked}, {"damage", damage}, {"problems", r.problems}, {"notes", r.notes}, {"superseded", r.superseded},
                      {"clean", r.clean()}}.dump(2)
              << "\n";
    return;
  }
  for (const auto& d : r.damage) {
    std::string snaps;
    for (uint64_t s : d.snapshots) snaps += (snaps.empty() ? "" : ", ") + SnapshotIdString(s);
    auto ids = [](const std::vector<uint64_t>& v) {
      std::string out;
      for (uint64_t s : v) out += (out.empty() ? "" : ", ") + SnapshotIdString(s);
      return out;
    };
    std::string lost;
    if (!d.lost.empty()) lost += "; lost with its commit block: " + ids(d.lost);
    if (!d.maybe_lost.empty()) lost += "; recipes without a commit (lost here, or never committed): " + ids(d.maybe_lost);
    std::printf("DAMAGE %s offset %llu..%llu: %s; %zu chunk(s); snapshots affected: %s%s\n",
                format::SegmentFileName(d.segment).c_str(), static_cast<unsigned long long>(d.offset),
                static_cast<unsigned long long>(d.end), d.what.c_str(), d.chunks.size(),
                snaps.empty() ? "none" : snaps.c_str(), lost.c_str());
  }
  for (const auto& p : r.problems) std::printf("PROBLEM %s\n", p.c_str());
  for (const auto& n : r.notes) std::printf("NOTE %s\n", n.c_str());
  if (r.segments == 0 && r.snapshots_checked > 0) {  // one snapshot: its own blocks were read
    std::printf("%s: %llu snapshot checked, every block and stream hash: %s\n", verb,
                static_cast<unsigned long long>(r.snapshots_checked), r.clean() ? "clean" : "DAMAGED");
    return;
  }
  std::string verdict = r.clean() ? "clean" : "DAMAGED";
  if (r.clean() && r.superseded > 0) {
    verdict += " (" + std::to_string(r.superseded) + " damaged block(s) superseded by good copies: see NOTE)";
  }
  std::printf("%s: %llu segments, %llu blocks, %s, %llu snapshots checked: %s\n", verb,
              static_cast<unsigned long long>(r.segments), static_cast<unsigned long long>(r.blocks),
              Human(r.bytes).c_str(), static_cast<unsigned long long>(r.snapshots_checked), verdict.c_str());
}

}  // namespace

int CmdVerify(const Common& c, const std::string& ref) {
  engine::RecoverMode mode{false, false};
  auto v = OpenVolumeToRead(c, true, mode, false);
  engine::CheckOptions o;
  o.decode_data = ref.empty();
  o.stream_hashes = true;
  if (!ref.empty()) o.snapshot = Check(ResolveSnapshot(v->index(), ref)).record.id;
  engine::CheckReport r;
  Check(engine::CheckVolume(v.get(), o, &r));
  PrintReport(c, r, "verify");
  Check(v->Close());
  return r.clean() ? 0 : 3;
}

int CmdFsck(const Common& c, bool repair, bool rebuild) {
  engine::RecoverMode mode{repair, false};
  if (repair) {
    std::string what;
    Check(engine::Volume::RepairVolumeFile(c.dir, &what));
    if (!what.empty()) std::printf("repair: %s\n", what.c_str());
  }
  // Only a repair or a rebuild writes; a plain fsck of a cleanly closed volume opens it read-only.
  auto v = repair || rebuild ? OpenVolume(c, false, mode, rebuild, false) : OpenVolumeToRead(c, false, mode, false);
  if (rebuild) {
    std::printf("rebuilt the index from %llu segments: %llu blocks, %llu snapshots\n",
                static_cast<unsigned long long>(v->recovery().segments_scanned),
                static_cast<unsigned long long>(v->recovery().blocks_applied),
                static_cast<unsigned long long>(v->recovery().snapshots_found));
  }
  engine::CheckReport r;
  Check(engine::CheckVolume(v.get(), engine::CheckOptions{}, &r));
  PrintReport(c, r, "fsck");
  if (repair && !r.damage.empty()) {
    uint64_t quarantined = 0;
    Check(engine::QuarantineDamagedChunks(v.get(), r, &quarantined));
    std::printf("repair: quarantined %llu damaged chunk(s); the next backup that holds them stores them again, and "
                "every snapshot that needs them reads the new copy. Damaged bytes stay in place; snapshots "
                "named above restore only once their chunks are stored again, or can be deleted\n",
                static_cast<unsigned long long>(quarantined));
  }
  Check(v->Close());
  return r.clean() ? 0 : 3;
}

}  // namespace bv::tool
