// The pread/pwrite backend: used when io_uring cannot be set up, or when BV_IO=sync asks for it.
#include <unistd.h>

#include <cerrno>

#include "io/env.h"
#include "io/posix_open.h"

namespace bv::io::internal {
namespace {

class SyncEnv;

class SyncFile final : public File {
 public:
  SyncFile(std::string path, OpenedFd fd, SyncEnv* env) : File(std::move(path)), fd_(fd), env_(env) {}
  ~SyncFile() override { ::close(fd_.fd); }

  Result<size_t> ReadOnce(uint64_t off, void* dst, size_t n) override {
    for (;;) {
      ssize_t got = ::pread(fd_.fd, dst, n, static_cast<off_t>(off));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return Status::FromErrno("read " + path_ + " at offset " + std::to_string(off), errno);
      return static_cast<size_t>(got);
    }
  }

  Status SubmitWrite(uint64_t off, Buffer buf, size_t n) override;

  Status WaitWrites() override { return error_; }

  Status DataSync() override {
    BV_RETURN_IF_ERROR(error_);
    if (::fdatasync(fd_.fd) != 0) return Status::FromErrno("fdatasync " + path_, errno);
    return Status::Ok();
  }

  Status Truncate(uint64_t size) override { return FdTruncate(fd_.fd, path_, size); }
  Result<uint64_t> Size() override { return FdSize(fd_.fd, path_); }
  Result<bool> Linked() override { return FdLinked(fd_.fd, path_); }
  bool direct() const override { return fd_.direct; }
  int fd() const override { return fd_.fd; }

 private:
  OpenedFd fd_;
  SyncEnv* env_;
  Status error_;
};

class SyncEnv final : public Env {
 public:
  SyncEnv() : pool_(kIoBufferCount, kIoBufferSize) {}
  Backend backend() const override { return Backend::kSync; }

  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override {
    BV_ASSIGN_OR_RETURN(OpenedFd fd, OpenPosix(path, mode));
    return std::unique_ptr<File>(new SyncFile(path, fd, this));
  }

  Result<Buffer> AcquireBuffer() override {
    Buffer b = pool_.TryAcquire();
    // Writes complete before SubmitWrite returns, so an empty pool is a leak.
    BV_ASSERT(b.data != nullptr);
    return b;
  }
  void ReleaseBuffer(Buffer b) override { pool_.Release(b); }

 private:
  BufferPool pool_;
};

Status SyncFile::SubmitWrite(uint64_t off, Buffer buf, size_t n) {
  BV_ASSERT(off % kAlign == 0 && n % kAlign == 0 && n <= buf.size);
  size_t done = 0;
  while (done < n && error_.ok()) {
    ssize_t w = ::pwrite(fd_.fd, buf.data + done, n - done, static_cast<off_t>(off + done));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      error_ = Status::FromErrno("write " + path_ + " at offset " + std::to_string(off + done), errno);
      break;
    }
    done += static_cast<size_t>(w);
  }
  env_->ReleaseBuffer(buf);
  return error_;
}

}  // namespace

std::unique_ptr<Env> NewSyncEnv() { return std::make_unique<SyncEnv>(); }

}  // namespace bv::io::internal
