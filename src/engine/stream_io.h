// Where a pipeline's bytes come from and go to: file descriptors now, sockets later.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "io/mapped_file.h"
#include "io/pipe.h"

namespace bv::engine {

// Standard input or output grown as io::OpenPipe grows its pipes, if it is a pipe.
inline void GrowIfPipe(int fd) {
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) (void)io::GrowPipe(fd);
}

class InputStream {
 public:
  virtual ~InputStream() = default;
  // Up to n bytes; 0 at the end of the stream.
  virtual Result<size_t> Read(char* dst, size_t n) = 0;
  // A stream that is a file mapped into memory, whole and unread: Put chunks its bytes where they
  // lie instead of reading them into buffers of its own. nullptr for any other stream.
  virtual io::MappedFile* Mapped() { return nullptr; }
};

// A regular file, mapped: Put takes its bytes from the page cache without copying them.
class MappedInput final : public InputStream {
 public:
  explicit MappedInput(std::unique_ptr<io::MappedFile> m) : m_(std::move(m)) {}
  Result<size_t> Read(char* dst, size_t n) override {
    const std::string_view all = m_->bytes();
    n = std::min<size_t>(n, all.size() - pos_);
    BV_RETURN_IF_ERROR(m_->Populate(pos_, n));
    std::memcpy(dst, all.data() + pos_, n);
    pos_ += n;
    m_->Release(pos_);
    return n;
  }
  io::MappedFile* Mapped() override { return pos_ == 0 ? m_.get() : nullptr; }

 private:
  std::unique_ptr<io::MappedFile> m_;
  size_t pos_ = 0;
};

class OutputSink {
 public:
  virtual ~OutputSink() = default;
  virtual Status Write(std::string_view bytes) = 0;
  // Writes the pieces in order. `hold` owns their memory: a sink that sends without copying
  // (a socket with zero-copy send) keeps it until the kernel is done with the bytes; others
  // drop it on return.
  virtual Status WriteHeld(std::span<const std::string_view> pieces, std::shared_ptr<const void> hold) {
    (void)hold;
    for (std::string_view p : pieces) BV_RETURN_IF_ERROR(Write(p));
    return Status::Ok();
  }
};

class FdInput final : public InputStream {
 public:
  FdInput(int fd, std::string name) : fd_(fd), name_(std::move(name)) { GrowIfPipe(fd_); }
  Result<size_t> Read(char* dst, size_t n) override {
    for (;;) {
      ssize_t got = ::read(fd_, dst, n);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return Status::FromErrno("read " + name_, errno);
      return static_cast<size_t>(got);
    }
  }

 private:
  int fd_;
  std::string name_;
};

class FdSink final : public OutputSink {
 public:
  FdSink(int fd, std::string name) : fd_(fd), name_(std::move(name)) { GrowIfPipe(fd_); }
  Status Write(std::string_view b) override {
    while (!b.empty()) {
      ssize_t n = ::write(fd_, b.data(), b.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::FromErrno("write " + name_, errno);
      b.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }
  // One writev per batch rather than a write per chunk.
  Status WriteHeld(std::span<const std::string_view> pieces, std::shared_ptr<const void>) override {
    std::vector<iovec> iov;
    iov.reserve(pieces.size());
    for (std::string_view p : pieces) {
      if (!p.empty()) iov.push_back({const_cast<char*>(p.data()), p.size()});
    }
    size_t at = 0;
    while (at < iov.size()) {
      ssize_t n = ::writev(fd_, &iov[at], static_cast<int>(std::min<size_t>(iov.size() - at, kIovMax)));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::FromErrno("write " + name_, errno);
      size_t done = static_cast<size_t>(n);
      while (at < iov.size() && done >= iov[at].iov_len) done -= iov[at++].iov_len;
      if (done > 0) {
        iov[at].iov_base = static_cast<char*>(iov[at].iov_base) + done;
        iov[at].iov_len -= done;
      }
    }
    return Status::Ok();
  }

 private:
  static constexpr size_t kIovMax = 1024;
  int fd_;
  std::string name_;
};

// Discards bytes: for verification, where only the checks matter.
class NullSink final : public OutputSink {
 public:
  Status Write(std::string_view) override { return Status::Ok(); }
};

}  // namespace bv::engine
