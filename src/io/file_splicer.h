// Sends byte ranges of files to a socket with splice(2) through a pipe: the bytes go from the page
// cache to the socket and never enter user space. Splice reads through the page cache, so a
// file is opened without O_DIRECT (OpenMode::kReadCached). A TLS socket the kernel does not
// encrypt for (Socket::raw_writes) gets the bytes read and written through its stream instead.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "io/file.h"
#include "io/pipe.h"
#include "io/socket.h"

namespace bv::io {

class FileSplicer {
 public:
  static Result<std::unique_ptr<FileSplicer>> Create();
  ~FileSplicer();
  FileSplicer(const FileSplicer&) = delete;
  FileSplicer& operator=(const FileSplicer&) = delete;

  // Sends bytes [off, off + n) of `file` (not direct()). An error leaves the splicer unusable.
  // The process must ignore SIGPIPE (a peer that went away).
  Status Send(File* file, uint64_t off, size_t n, Socket* socket, int timeout_ms);
  // The same from a descriptor the caller holds open (a user's file); `name` is for errors.
  Status SendFrom(int fd, const std::string& name, uint64_t off, size_t n, Socket* socket, int timeout_ms);

 private:
  Status CopyFrom(int fd, const std::string& name, uint64_t off, size_t n, Socket* socket, int timeout_ms);
  static constexpr size_t kCopyBufferSize = 256 << 10;

  explicit FileSplicer(const Pipe& p) : pipe_read_(p.read_end), pipe_write_(p.write_end), pipe_size_(p.size) {}

  int pipe_read_, pipe_write_;
  size_t pipe_size_;
  bool broken_ = false;
  std::string copy_buffer_;
};

}  // namespace bv::io
