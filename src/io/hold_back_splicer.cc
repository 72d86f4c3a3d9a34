#include "io/hold_back_splicer.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "io/wait.h"

namespace bv::io {

Result<std::unique_ptr<HoldBackSplicer>> HoldBackSplicer::Create(size_t hold) {
  BV_ASSIGN_OR_RETURN(Pipe p, OpenPipe(O_NONBLOCK));
  return std::unique_ptr<HoldBackSplicer>(new HoldBackSplicer(hold, p));
}

HoldBackSplicer::~HoldBackSplicer() {
  ::close(pipe_read_);
  ::close(pipe_write_);
}

Result<uint64_t> HoldBackSplicer::Run(int socket_fd, int out_fd, int timeout_ms,
                                      const std::function<void(uint64_t)>& progress) {
  uint64_t total = 0;
  for (;;) {
    if (in_pipe_ >= pipe_size_) {  // a pipe no larger than `hold` (pipe-max-size refused more)
      BV_RETURN_IF_ERROR(PipeToMemory());
      continue;
    }
    // Splicing from a blocking TCP socket waits for data however it is asked, so wait here,
    // where the timeout holds; once the socket is readable the splice takes what is there.
    BV_RETURN_IF_ERROR(WaitFor(socket_fd, POLLIN, timeout_ms, "read from the server"));
    ssize_t got = ::splice(socket_fd, nullptr, pipe_write_, nullptr, pipe_size_ - in_pipe_, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (got == 0) return total;  // the server's end
    if (got > 0) {
      in_pipe_ += static_cast<size_t>(got);
      total += static_cast<uint64_t>(got);
      const size_t held = memory_.size() + in_pipe_;
      if (held > hold_) BV_RETURN_IF_ERROR(Release(held - hold_, out_fd));
      if (progress) progress(total);
      continue;
    }
    if (errno == EINTR || errno == EAGAIN) {
      // Readable, yet nothing moved: the pipe counts slots as well as bytes, and many small
      // packets can fill its slots while it holds fewer than `hold` bytes; those then wait in
      // memory.
      pollfd room{pipe_write_, POLLOUT, 0};
      if (errno == EAGAIN && ::poll(&room, 1, 0) == 0) BV_RETURN_IF_ERROR(PipeToMemory());
      continue;
    }
    return Status::FromErrno("splice from the server", errno);
  }
}

Status HoldBackSplicer::Release(size_t n, int out_fd) {
  while (n > 0 && !memory_.empty()) {
    const size_t k = std::min(n, memory_.size());
    ssize_t w = ::write(out_fd, memory_.data(), k);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      BV_RETURN_IF_ERROR(WaitFor(out_fd, POLLOUT, -1, "write the output"));
      continue;
    }
    if (w < 0) return Status::FromErrno("write the output", errno);
    memory_.erase(0, static_cast<size_t>(w));
    n -= static_cast<size_t>(w);
  }
  while (n > 0) {
    ssize_t m = ::splice(pipe_read_, nullptr, out_fd, nullptr, n, SPLICE_F_MOVE);
    if (m < 0 && errno == EINTR) continue;
    if (m < 0 && errno == EAGAIN) {
      BV_RETURN_IF_ERROR(WaitFor(out_fd, POLLOUT, -1, "write the output"));
      continue;
    }
    if (m < 0) return Status::FromErrno("splice to the output", errno);
    if (m == 0) return Status::IOError("splice to the output: it took nothing");
    in_pipe_ -= static_cast<size_t>(m);
    n -= static_cast<size_t>(m);
  }
  return Status::Ok();
}

Status HoldBackSplicer::PipeToMemory() {
  while (in_pipe_ > 0) {
    const size_t at = memory_.size();
    memory_.resize(at + in_pipe_);
    ssize_t r = ::read(pipe_read_, memory_.data() + at, in_pipe_);
    memory_.resize(at + static_cast<size_t>(std::max<ssize_t>(r, 0)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return Status::FromErrno("read the held bytes", r == 0 ? EIO : errno);
    in_pipe_ -= static_cast<size_t>(r);
  }
  return Status::Ok();
}

Result<std::string> HoldBackSplicer::Tail() {
  BV_RETURN_IF_ERROR(PipeToMemory());
  return std::move(memory_);
}

}  // namespace bv::io
