// Opening a segment file with O_DIRECT where the file system allows it. Shared by both backends.
#pragma once

#include <string>

#include "base/status.h"
#include "io/env.h"

namespace bv::io::internal {

struct OpenedFd {
  int fd = -1;
  bool direct = false;
};

Result<OpenedFd> OpenPosix(const std::string& path, OpenMode mode);
Result<uint64_t> FdSize(int fd, const std::string& path);
// Whether the open file still has a name (someone may have removed it under us).
Result<bool> FdLinked(int fd, const std::string& path);
Status FdTruncate(int fd, const std::string& path, uint64_t size);

}  // namespace bv::io::internal
