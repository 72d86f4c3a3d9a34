#include "io/pipe.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace bv::io {

size_t GrowPipe(int fd) {
  int size = ::fcntl(fd, F_SETPIPE_SZ, kPipeSizeWanted);
  if (size < 0) size = ::fcntl(fd, F_GETPIPE_SZ);  // refused: as it was; not a pipe: -1
  return size > 0 ? static_cast<size_t>(size) : 0;
}

Result<Pipe> OpenPipe(int flags) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | flags) != 0) return Status::FromErrno("pipe", errno);
  return Pipe{fds[0], fds[1], GrowPipe(fds[1])};
}

}  // namespace bv::io
