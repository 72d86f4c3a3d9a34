// A segment file as the engine sees it. Writes are queued and complete before WaitWrites or
// DataSync returns; the backend (io_uring or pread/pwrite) stays behind this interface.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "io/buffer_pool.h"

namespace bv::io {

class File {
 public:
  virtual ~File() = default;

  // Reads up to n bytes at off into dst; fewer only at the end of the file. Unaligned requests
  // to a direct() file go through an aligned bounce buffer.
  Result<size_t> ReadAt(uint64_t off, void* dst, size_t n);
  // Queues a write of buf.data[0..n) at off; n and off are multiples of kAlign. The file owns buf
  // until the write is done and then gives it back to the pool it came from.
  virtual Status SubmitWrite(uint64_t off, Buffer buf, size_t n) = 0;
  // Waits until every queued write is done; the first failure is returned.
  virtual Status WaitWrites() = 0;
  // WaitWrites, then fdatasync.
  virtual Status DataSync() = 0;
  virtual Status Truncate(uint64_t size) = 0;
  virtual Result<uint64_t> Size() = 0;
  // Whether the file still has a name in its directory: bytes synced to a file someone removed
  // are gone at the next close, so a writer checks before it reports anything durable.
  virtual Result<bool> Linked() = 0;
  // Opened with O_DIRECT.
  virtual bool direct() const = 0;
  // The descriptor, for splice(2) from a file opened OpenMode::kReadCached.
  virtual int fd() const = 0;
  const std::string& path() const { return path_; }

 protected:
  explicit File(std::string path) : path_(std::move(path)) {}
  // One read of up to n bytes (aligned when direct()); 0 at the end of the file.
  virtual Result<size_t> ReadOnce(uint64_t off, void* dst, size_t n) = 0;
  Result<size_t> ReadFull(uint64_t off, void* dst, size_t n);
  std::string path_;
};

}  // namespace bv::io
