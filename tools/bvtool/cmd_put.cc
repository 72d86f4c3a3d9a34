// bvtool put: one stream in, one snapshot out.
#include "tools/bvtool/commands.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <set>
#include <vector>

#include "base/time_format.h"
#include "engine/put_session.h"
#include "engine/snapshot_ref.h"
#include "io/mapped_file.h"
#include "tools/bvtool/child_process.h"

namespace bv::tool {

using engine::ResolveSnapshot;
using engine::SnapshotIdString;

namespace {

// A mapped input file cut short under us raises SIGBUS when the missing bytes are read (the put
// checks the size as it goes, so only a truncation in the last moments gets here): say so, and
// exit like any failed put. Nothing is committed; stored chunks stay for the next put to dedup.
void OnSigbus(int sig, siginfo_t* info, void*) {
  if (const char* name = io::MappedFile::NameAt(info->si_addr)) {
    const char* parts[] = {"bvtool: ", name, " shrank while it was being read\n"};
    for (const char* p : parts) {
      if (::write(STDERR_FILENO, p, std::strlen(p)) < 0) break;
    }
    ::_exit(1);
  }
  ::signal(sig, SIG_DFL);  // not ours: the default, which ends the process with a core
  ::raise(sig);
}

void WhenAMappedFileShrinks() {
  struct sigaction sa = {};
  sa.sa_sigaction = OnSigbus;
  sa.sa_flags = SA_SIGINFO;
  ::sigaction(SIGBUS, &sa, nullptr);
}

// put SOURCE -- COMMAND…: the command's standard output, whose end is an end only if the command
// exits with status 0; anything else fails the put, which then commits nothing.
class CommandInput final : public engine::InputStream {
 public:
  explicit CommandInput(ChildProcess* producer)
      : producer_(producer), pipe_(producer->fd(), "the output of " + producer->name()) {}
  Result<size_t> Read(char* dst, size_t n) override {
    BV_ASSIGN_OR_RETURN(size_t got, pipe_.Read(dst, n));
    if (got > 0) return got;
    BV_ASSIGN_OR_RETURN(int status, producer_->Wait());
    if (ChildProcess::Succeeded(status)) return got;
    return Status::IOError(producer_->Describe(status) + "; nothing was committed");
  }

 private:
  ChildProcess* const producer_;
  engine::FdInput pipe_;
};

}  // namespace

int CmdPut(const Common& c, const std::string& source, const std::string& file, const std::vector<std::string>& streams,
           const std::string& label, const std::string& time, const std::vector<std::string>& command) {
  // Either one anonymous stream (FILE or standard input) or named ones, NAME=FILE each.
  struct Opened {
    std::string name;
    std::unique_ptr<engine::InputStream> input;
  };
  std::vector<Opened> opened;
  // A regular file is mapped and chunked where it lies; a pipe is read.
  auto open_input = [](const std::string& path) -> std::unique_ptr<engine::InputStream> {
    if (path.empty() || path == "-") {
      auto m = Check(io::MappedFile::Map(STDIN_FILENO, "standard input"));
      if (m) return std::make_unique<engine::MappedInput>(std::move(m));
      return std::make_unique<engine::FdInput>(STDIN_FILENO, "standard input");
    }
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) Fail(Status::FromErrno("open " + path, errno));
    auto m = Check(io::MappedFile::Map(fd, path));
    if (m) return std::make_unique<engine::MappedInput>(std::move(m));
    return std::make_unique<engine::FdInput>(fd, path);
  };
  WhenAMappedFileShrinks();
  std::unique_ptr<ChildProcess> producer;
  if (!command.empty()) {
    if (!file.empty() || !streams.empty()) Fail(Status::InvalidArgument("give FILE, --stream or -- COMMAND, not two"));
    producer = Check(ChildProcess::Start(command, ChildProcess::Side::kProducer));
    opened.push_back({"", std::make_unique<CommandInput>(producer.get())});
  } else if (streams.empty()) {
    opened.push_back({"", open_input(file)});
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
      opened.push_back({name, open_input(path)});
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
