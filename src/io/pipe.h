// Pipes grown to 1 MiB where the system allows it (pipe-max-size may refuse): a writer runs
// further ahead, and its reader is woken far less often, than with the default 64 KiB.
#pragma once

#include <cstddef>

#include "base/status.h"

namespace bv::io {

inline constexpr int kPipeSizeWanted = 1 << 20;

// Grows the pipe `fd` as far as allowed; its size after, or 0 if fd is not a pipe.
size_t GrowPipe(int fd);

struct Pipe {
  int read_end = -1;
  int write_end = -1;
  size_t size = 0;  // bytes it holds
};

// A new pipe (close-on-exec, plus `flags` such as O_NONBLOCK), grown; the caller closes both ends.
Result<Pipe> OpenPipe(int flags);

}  // namespace bv::io
