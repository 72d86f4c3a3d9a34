// Moves a socket's bytes to a pipe (a restore's standard output) with splice(2), so they never
// enter user space, while keeping the newest `hold` bytes back until the socket ends: a stream
// that fails part way ends in an error line instead of the rest (docs/protocol.md §7), and that
// line must not reach the output. The held bytes wait in a pipe of the splicer's own, or in
// memory when the kernel's pipe slots run out first (many small packets).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"
#include "io/pipe.h"

namespace bv::io {

class HoldBackSplicer {
 public:
  static Result<std::unique_ptr<HoldBackSplicer>> Create(size_t hold);
  ~HoldBackSplicer();
  HoldBackSplicer(const HoldBackSplicer&) = delete;
  HoldBackSplicer& operator=(const HoldBackSplicer&) = delete;

  // Until the socket ends: every byte but the newest `hold` goes to out_fd (a pipe), in order.
  // Returns the bytes received; then Tail() holds the rest. `progress` gets the bytes received.
  // TimedOut if the socket is silent for timeout_ms.
  Result<uint64_t> Run(int socket_fd, int out_fd, int timeout_ms, const std::function<void(uint64_t)>& progress);
  // The last bytes received (at most `hold`), once Run has returned.
  Result<std::string> Tail();

 private:
  HoldBackSplicer(size_t hold, const Pipe& p)
      : hold_(hold), pipe_read_(p.read_end), pipe_write_(p.write_end), pipe_size_(p.size) {}
  // Sends the oldest n held bytes to out_fd: those kept in memory first, then the pipe's.
  Status Release(size_t n, int out_fd);
  // Moves everything in the pipe to memory (the pipe's slots ran out).
  Status PipeToMemory();

  const size_t hold_;
  int pipe_read_, pipe_write_;
  size_t pipe_size_;
  std::string memory_;  // held bytes older than the pipe's
  size_t in_pipe_ = 0;
};

}  // namespace bv::io
