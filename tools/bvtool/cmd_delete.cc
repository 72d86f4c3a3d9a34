// bvtool delete (offline): a deletion record for one snapshot, durable when it returns.
#include <cstdio>

#include "engine/delete.h"
#include "engine/snapshot_ref.h"
#include "tools/bvtool/commands.h"

namespace bv::tool {

int CmdDelete(const Common& c, const std::string& ref, const std::string& reason) {
  auto v = OpenVolume(c, true);
  const engine::SnapshotEntry snap = Check(engine::ResolveSnapshot(v->index(), ref));
  Check(engine::DeleteSnapshot(v.get(), snap.record, reason.empty() ? "deleted with bvtool" : reason));
  std::printf("deleted %s\n", engine::SnapshotIdString(snap.record.id).c_str());
  Check(v->Close());
  return 0;
}

}  // namespace bv::tool
