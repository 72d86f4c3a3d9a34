#include "io/posix_open.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace bv::io::internal {

Result<OpenedFd> OpenPosix(const std::string& path, OpenMode mode) {
  int flags = O_CLOEXEC;
  switch (mode) {
    case OpenMode::kRead:
    case OpenMode::kReadCached: flags |= O_RDONLY; break;
    case OpenMode::kReadWrite: flags |= O_RDWR; break;
    case OpenMode::kCreate: flags |= O_RDWR | O_CREAT | O_EXCL; break;
  }
  // BV_DIRECT=0 turns O_DIRECT off (tmpfs and some overlay file systems refuse it anyway).
  const char* d = std::getenv("BV_DIRECT");
  const bool want_direct = (d == nullptr || std::strcmp(d, "0") != 0) && mode != OpenMode::kReadCached;
  if (want_direct) {
    int fd = ::open(path.c_str(), flags | O_DIRECT, 0644);
    if (fd >= 0) return OpenedFd{fd, true};
    if (errno != EINVAL) return Status::FromErrno("open " + path, errno);
    if (mode == OpenMode::kCreate) ::unlink(path.c_str());  // created before O_DIRECT was refused
  }
  int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) return Status::FromErrno("open " + path, errno);
  return OpenedFd{fd, false};
}

Result<uint64_t> FdSize(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::FromErrno("stat " + path, errno);
  return static_cast<uint64_t>(st.st_size);
}

Result<bool> FdLinked(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::FromErrno("stat " + path, errno);
  return st.st_nlink > 0;
}

Status FdTruncate(int fd, const std::string& path, uint64_t size) {
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) return Status::FromErrno("truncate " + path, errno);
  return Status::Ok();
}

}  // namespace bv::io::internal
