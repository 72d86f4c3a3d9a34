// bvtool get: a snapshot back, to standard output or beside a file.
#include "tools/bvtool/commands.h"

#include "engine/restore.h"
#include "engine/snapshot_ref.h"
#include "tools/bvtool/into_command.h"
#include "tools/bvtool/output_file.h"

namespace bv::tool {

using engine::ResolveSnapshot;
using engine::SnapshotIdString;

namespace {

constexpr size_t kHoldBack = 64 << 10;

// get --into: the consumer gets all but the last kHoldBack bytes as they are restored, and those
// only once the whole stream's hash has checked.
int RestoreInto(engine::Volume* v, const engine::SnapshotEntry& snap, const engine::RestoreOptions& o,
                const std::vector<std::string>& into) {
  auto consumer = StartConsumer(into);
  engine::FdSink pipe(consumer->fd(), "the input of " + consumer->name());
  engine::HoldBackSink sink(&pipe, kHoldBack);
  Status s = engine::Restore(v, snap, o, &sink);
  if (s.ok()) s = sink.Release();
  return FinishInto(consumer.get(), s);
}

}  // namespace

int CmdGet(const Common& c, const std::string& ref, const std::string& out_path, const std::string& range,
           const std::string& stream_name, const std::vector<std::string>& into) {
  auto v = OpenVolumeToRead(c, true);
  auto snap = Check(ResolveSnapshot(v->index(), ref));
  engine::RestoreOptions o;
  o.stream = Check(engine::FindStream(snap.record, stream_name));
  if (!range.empty()) o.range = Check(engine::ParseByteRange(range, snap.record.streams[o.stream].length));
  Progress progress("get");
  o.progress = [&](uint64_t n) { progress.Update(n); };
  if (!into.empty()) {
    const int status = RestoreInto(v.get(), snap, o, into);
    Check(v->Close());
    return status;
  }
  OutputFile output(out_path, /*verify_only=*/false);
  Check(output.Finish(engine::Restore(v.get(), snap, o, output.sink())));
  Check(v->Close());
  return 0;
}

}  // namespace bv::tool
