// bvtool put: one stream in, one snapshot out.
#include "tools/bvtool/commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iostream>
#include <memory>
#include <set>
#include <vector>

#include "base/time_format.h"
#include "engine/ingest.h"
#include "engine/snapshot_ref.h"

namespace bv::tool {

using engine::ResolveSnapshot;
using engine::SnapshotIdString;

int CmdPut(const Common& c, const std::string& source, const std::string& file, const std::vector<std::string>& streams,
           const std::string& label, const std::string& time) {
  // Either one anonymous stream (FILE or standard input) or named ones, NAME=FILE each.
  struct Opened {
    std::string name;
    std::unique_ptr<engine::FdInput> input;
  };
  std::vector<Opened> opened;
  auto open_input = [](const std::string& path) {
    if (path.empty() || path == "-") return STDIN_FILENO;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) Fail(Status::FromErrno("open " + path, errno));
    return fd;
  };
  if (streams.empty()) {
    opened.push_back({"", std::make_unique<engine::FdInput>(open_input(file), file.empty() ? "standard input" : file)});
  } else {
    if (!file.empty()) Fail(Status::InvalidArgument("give FILE or --stream NAME=FILE, not both"));
    std::set<std::string> names;
    for (const std::string& spec : streams) {
      const size_t eq = spec.find('=');
      if (eq == std::string::npos || eq == 0) {
        Fail(Status::InvalidArgument("--stream " + spec + ": expected NAME=FILE"));
      }
      const std::string name = spec.substr(0, eq), path = spec.substr(eq + 1);
      if (!names.insert(name).second) Fail(Status::InvalidArgument("--stream " + name + " is given twice"));
      opened.push_back({name, std::make_unique<engine::FdInput>(open_input(path), path)});
    }
  }
  std::vector<engine::NamedInput> inputs;
  for (const Opened& o : opened) inputs.push_back({o.name, o.input.get()});
  auto v = OpenVolume(c, true);
  engine::PutOptions o;
  o.source = source;
  o.label = label;
  if (!time.empty()) o.time_us = Check(ParseTime(time));
  Progress progress("put");
  o.progress = [&](uint64_t n) { progress.Update(n); };
  auto rec = Check(engine::Put(v.get(), o, inputs));
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
