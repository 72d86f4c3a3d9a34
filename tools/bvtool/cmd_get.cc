// bvtool get: a snapshot back, to standard output or beside a file.
#include "tools/bvtool/commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iostream>
#include <optional>

#include "engine/restore.h"
#include "engine/snapshot_ref.h"

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
  if (out_path.empty() || out_path == "-") {
    engine::FdSink sink(STDOUT_FILENO, "standard output");
    Check(engine::Restore(v.get(), snap, o, &sink));
  } else {
    // Written beside the target and renamed over it only when whole and checked.
    const std::string tmp = out_path + ".bv-partial-" + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) Fail(Status::FromErrno("create " + tmp, errno));
    engine::FdSink sink(fd, tmp);
    Status s = engine::Restore(v.get(), snap, o, &sink);
    if (s.ok() && ::fsync(fd) != 0) s = Status::FromErrno("fsync " + tmp, errno);
    ::close(fd);
    if (s.ok() && ::rename(tmp.c_str(), out_path.c_str()) != 0) s = Status::FromErrno("rename to " + out_path, errno);
    if (!s.ok()) {
      ::unlink(tmp.c_str());
      Fail(s);
    }
    const size_t slash = out_path.rfind('/');
    Check(io::SyncDir(slash == std::string::npos ? "." : out_path.substr(0, slash == 0 ? 1 : slash)));
  }
  Check(v->Close());
  return 0;
}

}  // namespace bv::tool
