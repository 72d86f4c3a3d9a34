// The I/O environment: which backend, its ring and buffers, and the small file-system operations
// (atomic side files, directory sync, listing). Nothing outside src/io/ includes liburing.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "io/buffer_pool.h"
#include "io/file.h"

namespace bv::io {

enum class Backend { kUring, kSync };
const char* BackendName(Backend b);

// BV_IO=sync or BV_IO=uring; anything else (or unset) means "io_uring if it works".
Result<Backend> BackendFromEnvironment();

// kReadCached: to read through the page cache (never O_DIRECT), as splice(2) needs.
enum class OpenMode { kRead, kReadCached, kReadWrite, kCreate };

// An exclusive lock on a file, held until destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

// One read of a ReadBatch. For a direct() file, off, n and dst are multiples of kAlign.
struct ReadRequest {
  File* file = nullptr;
  uint64_t off = 0;
  uint8_t* dst = nullptr;
  size_t n = 0;
  int buffer_index = -1;  // dst lies in this registered read buffer (Buffer::index), or -1
  // Results: bytes read (fewer than n only at the end of the file), or why it failed.
  size_t got = 0;
  Status status;
};

class Env {
 public:
  // Asking for kUring falls back to kSync when the ring cannot be set up (containers often
  // forbid io_uring); `backend()` tells which one is in use.
  static std::unique_ptr<Env> Create(Backend wanted);
  virtual ~Env() = default;
  virtual Backend backend() const = 0;

  virtual Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) = 0;
  // A pool buffer for SubmitWrite; waits for queued writes to finish if none is free.
  virtual Result<Buffer> AcquireBuffer() = 0;
  virtual void ReleaseBuffer(Buffer b) = 0;

  // Reads every request, all in flight at once where the backend can (io_uring submits them in
  // one go, READ_FIXED for registered buffers). Each request gets its own result; the return
  // value is the first failure.
  virtual Status ReadBatch(std::span<ReadRequest> reqs);
  // A read buffer of kIoBufferSize registered with the ring, or one with data == nullptr when
  // the backend has none or all are taken (the caller then uses memory of its own). Never waits.
  virtual Buffer TryAcquireReadBuffer() { return Buffer{}; }
  virtual void ReleaseReadBuffer(Buffer) {}

  // The file-system operations a volume makes besides segment I/O (its VOLUME file, markers, key
  // file, lock, directories), here so that a test's Env can fail any of them. The defaults are
  // the functions of the same names below.
  virtual Status WriteFileAtomic(const std::string& path, std::string_view bytes, int mode);
  virtual Result<std::string> ReadSmallFile(const std::string& path, size_t max_size);
  virtual Status CreateFileExclusive(const std::string& path, std::string_view bytes, int mode);
  virtual Status SyncDir(const std::string& dir);
  virtual Status MakeDirs(const std::string& dir, int mode);
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir);
  virtual bool PathExists(const std::string& path);
  virtual Status RemoveFile(const std::string& path);
  virtual Result<std::unique_ptr<FileLock>> LockFile(const std::string& path);

 protected:
  // One request through its file's ReadAt: what ReadBatch does for a backend without batches.
  static void ReadPlainly(ReadRequest* r);
};

// Small files: written to a temporary name, fsynced, renamed, directory fsynced.
Status WriteFileAtomic(const std::string& path, std::string_view bytes, int mode = 0644);
Result<std::string> ReadSmallFile(const std::string& path, size_t max_size);
Status SyncDir(const std::string& dir);
Status MakeDirs(const std::string& dir, int mode = 0755);
Result<std::vector<std::string>> ListDir(const std::string& dir);
bool PathExists(const std::string& path);
Status RemoveFile(const std::string& path);
// Creates `path`, which must not exist yet, holding `bytes`, fsynced (a key file); removed again
// if writing fails.
Status CreateFileExclusive(const std::string& path, std::string_view bytes, int mode);
// An exclusive flock(2) on `path` (created if missing); Busy when another process holds it.
Result<std::unique_ptr<FileLock>> LockFile(const std::string& path);

// A pread/pwrite Env for the process, for files that belong to no volume.
Env* SystemEnv();

namespace internal {
std::unique_ptr<Env> NewSyncEnv();
// nullptr (with *why set) when io_uring cannot be used here.
std::unique_ptr<Env> NewUringEnv(std::string* why);
}  // namespace internal

}  // namespace bv::io
