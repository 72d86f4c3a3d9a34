#include "io/wait.h"

#include <poll.h>

#include <cerrno>

namespace bv::io {

Status WaitFor(int fd, short events, int timeout_ms, const std::string& what) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, timeout_ms);
    if (r > 0) return Status::Ok();
    if (r == 0) return Status::TimedOut(what + ": nothing for " + std::to_string(timeout_ms / 1000) + " s");
    if (errno != EINTR) return Status::FromErrno(what, errno);
  }
}

}  // namespace bv::io
