// A regular file mapped read-only, for a reader that goes through it once, front to back: it makes
// each range resident before use (one call, not a fault per page) and drops the pages behind it,
// so the process's resident memory stays at the ranges in use however large the file is.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace bv::io {

class MappedFile {
 public:
  // The file open at fd, mapped whole; nullptr (not an error: read it instead) if it is not a
  // regular file, is empty, fd is not at its start, or its file system cannot map it.
  static Result<std::unique_ptr<MappedFile>> Map(int fd, const std::string& name);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::string_view bytes() const { return {data_, size_}; }
  const std::string& name() const { return name_; }
  // Makes bytes [off, off + n) resident. An error if the file has shrunk below them since it was
  // mapped (reading them would raise SIGBUS).
  Status Populate(uint64_t off, size_t n);
  // The first n bytes are no longer needed: their pages leave this process (not the page cache).
  void Release(uint64_t n);
  // Whether addr lies in a mapping of this process made here, and the name of its file; for a
  // SIGBUS handler, so async-signal-safe.
  static const char* NameAt(const void* addr);

 private:
  MappedFile(const char* data, uint64_t size, int fd, std::string name);
  const char* data_;
  uint64_t size_;
  int fd_;  // our own descriptor of the file (-1 if none could be had), for its size
  std::string name_;
  uint64_t released_ = 0;
};

}  // namespace bv::io
