// Waiting for a descriptor (a socket or a pipe) with a timeout, for code that reads and writes it
// without blocking.
#pragma once

#include <string>

#include "base/status.h"

namespace bv::io {

// Until fd is ready for `events` (poll(2)); TimedOut after timeout_ms of waiting (negative: no
// limit). `what` names the wait in errors: "write to 127.0.0.1:7780: nothing for 300 s".
Status WaitFor(int fd, short events, int timeout_ms, const std::string& what);

}  // namespace bv::io
