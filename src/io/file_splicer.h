// Sends byte ranges of files to a socket with splice(2) through a pipe: the bytes go from the page
// cache to the socket and never enter user space. Files are opened by path without O_DIRECT
// (splice reads through the page cache) and a few stay open, or the caller gives its own.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>

#include "base/status.h"
#include "io/pipe.h"
#include "io/socket.h"

namespace bv::io {

class FileSplicer {
 public:
  static Result<std::unique_ptr<FileSplicer>> Create();
  ~FileSplicer();
  FileSplicer(const FileSplicer&) = delete;
  FileSplicer& operator=(const FileSplicer&) = delete;

  // Sends bytes [off, off + n) of the file at `path`. An error leaves the splicer unusable.
  // The process must ignore SIGPIPE (a peer that went away).
  Status Send(const std::string& path, uint64_t off, size_t n, Socket* socket, int timeout_ms);
  // The same from a file the caller holds open; `name` is for errors.
  Status SendFrom(int fd, const std::string& name, uint64_t off, size_t n, Socket* socket, int timeout_ms);

 private:
  explicit FileSplicer(const Pipe& p) : pipe_read_(p.read_end), pipe_write_(p.write_end), pipe_size_(p.size) {}
  Result<int> FdFor(const std::string& path);

  static constexpr size_t kOpenFilesMax = 4;
  int pipe_read_, pipe_write_;
  size_t pipe_size_;
  bool broken_ = false;
  std::list<std::pair<std::string, int>> files_;  // most recent first
};

}  // namespace bv::io
