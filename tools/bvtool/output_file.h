// Where a get writes (offline or from bvd): standard output, or a file written under a temporary
// name beside the target and renamed over it only once whole and checked, the rename made durable;
// nowhere for a verify.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "engine/stream_io.h"
#include "io/env.h"
#include "tools/bvtool/common.h"

namespace bv::tool {

class OutputFile {
 public:
  // `path` empty or "-": standard output.
  OutputFile(const std::string& path, bool verify_only)
      : path_(path), to_stdout_(!verify_only && (path.empty() || path == "-")),
        tmp_(verify_only || to_stdout_ ? "" : path + ".bv-partial-" + std::to_string(::getpid())),
        fd_(tmp_.empty() ? STDOUT_FILENO : ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)),
        file_(fd_, to_stdout_ ? "standard output" : tmp_),
        sink_(verify_only ? static_cast<engine::OutputSink*>(&null_) : &file_) {
    if (fd_ < 0) Fail(Status::FromErrno("create " + tmp_, errno));
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  engine::OutputSink* sink() { return sink_; }
  bool to_stdout() const { return to_stdout_; }
  int fd() const { return fd_; }
  // The file synced, renamed and its directory synced when the get succeeded, else removed; `s`
  // or why that failed.
  Status Finish(Status s) {
    if (tmp_.empty()) return s;
    if (s.ok() && ::fsync(fd_) != 0) s = Status::FromErrno("fsync " + tmp_, errno);
    ::close(fd_);
    if (s.ok() && ::rename(tmp_.c_str(), path_.c_str()) != 0) s = Status::FromErrno("rename to " + path_, errno);
    if (!s.ok()) {
      ::unlink(tmp_.c_str());
      return s;
    }
    const size_t slash = path_.rfind('/');
    return io::SyncDir(slash == std::string::npos ? "." : path_.substr(0, slash == 0 ? 1 : slash));
  }

 private:
  const std::string path_;
  const bool to_stdout_;
  const std::string tmp_;
  const int fd_;
  engine::FdSink file_;
  engine::NullSink null_;
  engine::OutputSink* sink_;
};

}  // namespace bv::tool
