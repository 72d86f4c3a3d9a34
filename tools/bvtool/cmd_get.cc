// bvtool get: a snapshot back, to standard output or beside a file.
#include "tools/bvtool/commands.h"

#include "engine/restore.h"
#include "engine/snapshot_ref.h"
#include "tools/bvtool/output_file.h"

namespace bv::tool {

using engine::ResolveSnapshot;
using engine::SnapshotIdString;

int CmdGet(const Common& c, const std::string& ref, const std::string& out_path, const std::string& range,
           const std::string& stream_name) {
  auto v = OpenVolumeToRead(c, true);
  auto snap = Check(ResolveSnapshot(v->index(), ref));
  engine::RestoreOptions o;
  o.stream = Check(engine::FindStream(snap.record, stream_name));
  if (!range.empty()) o.range = Check(engine::ParseByteRange(range, snap.record.streams[o.stream].length));
  Progress progress("get");
  o.progress = [&](uint64_t n) { progress.Update(n); };
  OutputFile output(out_path, /*verify_only=*/false);
  Check(output.Finish(engine::Restore(v.get(), snap, o, output.sink())));
  Check(v->Close());
  return 0;
}

}  // namespace bv::tool
