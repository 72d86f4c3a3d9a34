// The space of the file system a path is on, as an unprivileged writer sees it (statvfs):
// what a disk reserve is measured against.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace bv::io {

struct DiskSpace {
  uint64_t total = 0;  // f_blocks × f_frsize
  uint64_t free = 0;   // f_bavail × f_frsize: what a writer without privileges may still take
};

Result<DiskSpace> SpaceOf(const std::string& path);

}  // namespace bv::io
