#include "io/file_splicer.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "io/wait.h"

namespace bv::io {

Result<std::unique_ptr<FileSplicer>> FileSplicer::Create() {
  BV_ASSIGN_OR_RETURN(Pipe p, OpenPipe(0));  // a bigger pipe moves more per splice
  return std::unique_ptr<FileSplicer>(new FileSplicer(p));
}

FileSplicer::~FileSplicer() {
  ::close(pipe_read_);
  ::close(pipe_write_);
}

Status FileSplicer::Send(File* file, uint64_t off, size_t n, Socket* socket, int timeout_ms) {
  BV_ASSERT(!file->direct());  // splice from an O_DIRECT file fails on unaligned offsets
  return SendFrom(file->fd(), file->path(), off, n, socket, timeout_ms);
}

Status FileSplicer::SendFrom(int fd, const std::string& path, uint64_t off, size_t n, Socket* socket,
                             int timeout_ms) {
  if (!socket->raw_writes()) return CopyFrom(fd, path, off, n, socket, timeout_ms);
  if (broken_) return Status::IOError("splice to " + socket->peer() + ": an earlier send failed");
  broken_ = true;  // until this send is whole: bytes may be left in the pipe
  loff_t at = static_cast<loff_t>(off);
  while (n > 0) {
    ssize_t in = ::splice(fd, &at, pipe_write_, nullptr, std::min(n, pipe_size_), SPLICE_F_MOVE | SPLICE_F_MORE);
    if (in < 0 && errno == EINTR) continue;
    if (in < 0) return Status::FromErrno("splice " + path + " at offset " + std::to_string(at), errno);
    if (in == 0) {
      return Status::Corruption(path + ": ends at offset " + std::to_string(at) + ", before the " +
                                std::to_string(n) + " bytes still to send");
    }
    size_t left = static_cast<size_t>(in);
    while (left > 0) {
      ssize_t out = ::splice(pipe_read_, nullptr, socket->fd(), nullptr, left,
                             SPLICE_F_MOVE | SPLICE_F_MORE | SPLICE_F_NONBLOCK);
      if (out > 0) {
        left -= static_cast<size_t>(out);
        continue;
      }
      if (out == 0) return Status::IOError("splice to " + socket->peer() + ": the socket took nothing");
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return Status::FromErrno("splice to " + socket->peer(), errno);
      BV_RETURN_IF_ERROR(WaitFor(socket->fd(), POLLOUT, timeout_ms, "write to " + socket->peer()));
    }
    n -= static_cast<size_t>(in);
  }
  broken_ = false;
  return Status::Ok();
}

// TLS in user space: the bytes are read here and written through the socket's stream.
Status FileSplicer::CopyFrom(int fd, const std::string& path, uint64_t off, size_t n, Socket* socket,
                             int timeout_ms) {
  if (copy_buffer_.empty()) copy_buffer_.resize(kCopyBufferSize);
  while (n > 0) {
    const ssize_t got = ::pread(fd, copy_buffer_.data(), std::min(n, copy_buffer_.size()), static_cast<off_t>(off));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return Status::FromErrno("read " + path + " at offset " + std::to_string(off), errno);
    if (got == 0) {
      return Status::Corruption(path + ": ends at offset " + std::to_string(off) + ", before the " +
                                std::to_string(n) + " bytes still to send");
    }
    BV_RETURN_IF_ERROR(socket->WriteAll(std::string_view(copy_buffer_.data(), static_cast<size_t>(got)), timeout_ms));
    off += static_cast<uint64_t>(got);
    n -= static_cast<size_t>(got);
  }
  return Status::Ok();
}

}  // namespace bv::io
