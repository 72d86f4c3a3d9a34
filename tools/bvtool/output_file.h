// Where a get writes (offline or from bvd): standard output, or a file written under a temporary
// name beside the target and renamed over it only once whole and checked, the rename made durable;
// a device or FIFO written in place; nowhere for a verify.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "engine/stream_io.h"
#include "io/env.h"
#include "tools/bvtool/common.h"

namespace bv::tool {

class OutputFile {
 public:
  // `path` empty or "-": standard output. A path that names something other than a regular file
  // (a device such as /dev/null, a FIFO) is written in place: renaming over it would replace it.
  OutputFile(const std::string& path, bool verify_only)
      : path_(path),
        to_stdout_(!verify_only && (path.empty() || path == "-")),
        kind_(verify_only || to_stdout_ ? 0 : KindOf(path)),
        tmp_(verify_only || to_stdout_ || InPlace(kind_) ? "" : path + ".bv-partial-" + std::to_string(::getpid())),
        fd_(Open(verify_only, to_stdout_, kind_, path_, tmp_)),
        file_(fd_, to_stdout_ ? "standard output" : InPlace(kind_) ? path_ : tmp_),
        sink_(verify_only ? static_cast<engine::OutputSink*>(&null_) : &file_) {
    if (fd_ < 0) Fail(Status::FromErrno((InPlace(kind_) ? "open " + path_ : "create " + tmp_), errno));
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  engine::OutputSink* sink() { return sink_; }
  bool to_stdout() const { return to_stdout_; }
  int fd() const { return fd_; }
  // The file synced, renamed and its directory synced when the get succeeded, else removed; `s`
  // or why that failed. Written in place: a block device synced, the rest only closed.
  Status Finish(Status s) {
    if (InPlace(kind_)) {
      if (s.ok() && S_ISBLK(kind_) && ::fsync(fd_) != 0) s = Status::FromErrno("fsync " + path_, errno);
      ::close(fd_);
      return s;
    }
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
  // The file type bits of what `path` names (0 when nothing does yet); a directory fails here.
  static mode_t KindOf(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return 0;
    if (S_ISDIR(st.st_mode)) Fail(Status::InvalidArgument(path + " is a directory: give a file to restore into"));
    return st.st_mode & S_IFMT;
  }
  static bool InPlace(mode_t kind) { return kind != 0 && !S_ISREG(kind); }
  static int Open(bool verify_only, bool to_stdout, mode_t kind, const std::string& path, const std::string& tmp) {
    if (verify_only || to_stdout) return STDOUT_FILENO;
    if (InPlace(kind)) return ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    return ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  }

  const std::string path_;
  const bool to_stdout_;
  const mode_t kind_;
  const std::string tmp_;
  const int fd_;
  engine::FdSink file_;
  engine::NullSink null_;
  engine::OutputSink* sink_;
};

}  // namespace bv::tool
