// bvtool put: one stream in, one snapshot out.
#include "tools/bvtool/commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iostream>

#include "base/time_format.h"
#include "engine/ingest.h"
#include "tools/bvtool/snapshot_ref.h"

namespace bv::tool {

int CmdPut(const Common& c, const std::string& source, const std::string& file, const std::string& label,
           const std::string& time) {
  auto v = OpenVolume(c, true);
  int fd = STDIN_FILENO;
  if (!file.empty() && file != "-") {
    fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) Fail(Status::FromErrno("open " + file, errno));
  }
  engine::FdInput in(fd, file.empty() ? "standard input" : file);
  engine::PutOptions o;
  o.source = source;
  o.label = label;
  if (!time.empty()) o.time_us = Check(ParseTime(time));
  Progress progress("put");
  o.progress = [&](uint64_t n) { progress.Update(n); };
  auto rec = Check(engine::Put(v.get(), o, {{"", &in}}));
  Check(v->Close());
  // Printed only now: the snapshot is durable.
  if (c.json) {
    std::cout << SnapshotJson(rec).dump() << std::endl;
  } else {
    std::cout << SnapshotIdString(rec.id) << std::endl;
  }
  return 0;
}

}  // namespace bv::tool
