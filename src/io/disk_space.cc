#include "io/disk_space.h"

#include <sys/statvfs.h>

#include <cerrno>

namespace bv::io {

Result<DiskSpace> SpaceOf(const std::string& path) {
  struct statvfs st;
  if (::statvfs(path.c_str(), &st) != 0) return Status::FromErrno("statvfs " + path, errno);
  const uint64_t unit = st.f_frsize;
  return DiskSpace{static_cast<uint64_t>(st.f_blocks) * unit, static_cast<uint64_t>(st.f_bavail) * unit};
}

}  // namespace bv::io
