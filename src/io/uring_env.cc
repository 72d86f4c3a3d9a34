// The io_uring backend: one ring per Env, the write and read buffer pools registered with it,
// writes submitted as WRITE_FIXED and reaped in batches, a batch of reads submitted at once
// (READ_FIXED into registered buffers), fdatasync as an IORING_OP_FSYNC.
#include <liburing.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "io/env.h"
#include "io/posix_open.h"

namespace bv::io::internal {
namespace {

inline constexpr unsigned kQueueDepth = 64;
// Writes are handed to the kernel in batches of this many, or sooner when anyone waits.
inline constexpr int kSubmitBatch = 4;
// Registered read buffers (restores read into them); pinned memory, so few.
inline constexpr size_t kReadBufferCount = 8;

class UringEnv;

class UringFile final : public File {
 public:
  UringFile(std::string path, OpenedFd fd, UringEnv* env) : File(std::move(path)), fd_(fd), env_(env) {}
  ~UringFile() override;

  Result<size_t> ReadOnce(uint64_t off, void* dst, size_t n) override;
  Status SubmitWrite(uint64_t off, Buffer buf, size_t n) override;
  Status WaitWrites() override;
  Status DataSync() override;
  Status Truncate(uint64_t size) override {
    BV_RETURN_IF_ERROR(WaitWrites());
    return FdTruncate(fd_.fd, path_, size);
  }
  Result<uint64_t> Size() override {
    BV_RETURN_IF_ERROR(WaitWrites());
    return FdSize(fd_.fd, path_);
  }
  Result<bool> Linked() override { return FdLinked(fd_.fd, path_); }
  bool direct() const override { return fd_.direct; }
  int fd() const override { return fd_.fd; }

  int pending = 0;  // queued writes not yet reaped
  Status error;     // first failed write

 private:
  OpenedFd fd_;
  UringEnv* env_;
};

// What a submitted request is, carried in user_data.
struct Op {
  enum Kind { kWrite, kRead, kBatchRead, kFsync } kind;
  UringFile* file;
  Buffer buf;
  uint64_t off;
  size_t len;
  size_t done = 0;  // bytes transferred so far (short transfers are resubmitted)
  int result = 0;
  bool finished = false;
  int fixed_index = -1;  // in the registered table, for READ_FIXED
};

class UringEnv final : public Env {
 public:
  UringEnv() : pool_(kIoBufferCount, kIoBufferSize), read_pool_(kReadBufferCount, kIoBufferSize) {}
  ~UringEnv() override {
    if (ready_) io_uring_queue_exit(&ring_);
  }

  bool Init(std::string* why) {
    int rc = io_uring_queue_init(kQueueDepth, &ring_, 0);
    if (rc < 0) {
      *why = std::string("io_uring_queue_init: ") + std::strerror(-rc);
      return false;
    }
    ready_ = true;
    // One table: the write pool's buffers, then the read pool's. Each pool is registered (its
    // pages faulted in and pinned, milliseconds of work) when first used, so a command that only
    // reads never pays for the write pool, nor one that only writes for the read pool. A kernel
    // without sparse tables (before 5.19) gets both now.
    const unsigned slots = static_cast<unsigned>(pool_.count() + read_pool_.count());
    if (io_uring_register_buffers_sparse(&ring_, slots) == 0) {
      sparse_ = true;
    } else {
      std::vector<iovec> iov = Iovecs(pool_);
      for (const iovec& v : Iovecs(read_pool_)) iov.push_back(v);
      // Without registration (RLIMIT_MEMLOCK) plain WRITE and READ are used.
      write_registered_ = read_registered_ = io_uring_register_buffers(&ring_, iov.data(), slots) == 0;
    }
    return true;
  }

  Backend backend() const override { return Backend::kUring; }

  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override {
    BV_ASSIGN_OR_RETURN(OpenedFd fd, OpenPosix(path, mode));
    return std::unique_ptr<File>(new UringFile(path, fd, this));
  }

  Result<Buffer> AcquireBuffer() override {
    std::lock_guard lock(mu_);
    if (sparse_ && !write_tried_) {
      write_tried_ = true;
      write_registered_ = RegisterPool(pool_, 0);
    }
    for (;;) {
      Buffer b = pool_.TryAcquire();
      if (b.data != nullptr) return b;
      BV_ASSERT(inflight_ > 0);  // every buffer is out in a write, so a completion will come
      BV_RETURN_IF_ERROR(ReapOne());
    }
  }
  void ReleaseBuffer(Buffer b) override { pool_.Release(b); }

  Buffer TryAcquireReadBuffer() override {
    {
      std::lock_guard lock(mu_);
      if (sparse_ && !read_tried_) {
        read_tried_ = true;
        read_registered_ = RegisterPool(read_pool_, static_cast<unsigned>(pool_.count()));
      }
    }
    return read_registered_ ? read_pool_.TryAcquire() : Buffer{};
  }
  void ReleaseReadBuffer(Buffer b) override { read_pool_.Release(b); }

  Status ReadBatch(std::span<ReadRequest> reqs) override {
    std::vector<Op> ops;
    ops.reserve(reqs.size());
    std::vector<ReadRequest*> ring_reqs;  // ops[i] reads ring_reqs[i]
    std::vector<ReadRequest*> others;     // files of another Env (a wrapping test Env): read plainly
    {
      std::lock_guard lock(mu_);
      for (ReadRequest& r : reqs) {
        auto* f = dynamic_cast<UringFile*>(r.file);
        if (f == nullptr) {
          others.push_back(&r);
          continue;
        }
        ops.push_back(Op{Op::kBatchRead, f, Buffer{r.dst, r.n, -1}, r.off, r.n});
        if (r.buffer_index >= 0) ops.back().fixed_index = static_cast<int>(kIoBufferCount) + r.buffer_index;
        ring_reqs.push_back(&r);
      }
      Status submit;
      size_t submitted = 0;
      for (Op& op : ops) {
        submit = Submit(&op, /*flush=*/false);
        if (!submit.ok()) break;
        submitted++;
      }
      if (submit.ok()) submit = Flush();
      // Every op handed to the ring lives in `ops`: all must complete before it goes away. A
      // ring that cannot complete them leaves the kernel writing into freed memory, so that
      // stops the process.
      for (size_t k = 0; k < submitted; k++) {
        while (!ops[k].finished) BV_ASSERT(ReapOne().ok());
      }
      BV_RETURN_IF_ERROR(submit);
    }
    Status first;
    for (size_t i = 0; i < ops.size(); i++) {
      ReadRequest& r = *ring_reqs[i];
      r.got = ops[i].done;
      r.status = ops[i].result < 0
                     ? Status::FromErrno("read " + r.file->path() + " at offset " + std::to_string(r.off), -ops[i].result)
                     : Status::Ok();
      if (first.ok()) first = r.status;
    }
    for (ReadRequest* r : others) {
      ReadPlainly(r);
      if (first.ok()) first = r->status;
    }
    return first;
  }

  Status Write(UringFile* f, uint64_t off, Buffer buf, size_t n) {
    std::lock_guard lock(mu_);
    auto* op = new Op{Op::kWrite, f, buf, off, n};
    f->pending++;
    return Submit(op);
  }

  Status WaitFile(UringFile* f) {
    std::lock_guard lock(mu_);
    while (f->pending > 0) BV_RETURN_IF_ERROR(ReapOne());
    return f->error;
  }

  // Submits one read or fsync and waits for it (other completions are handled meanwhile).
  Result<int> RunSync(Op::Kind kind, UringFile* f, uint64_t off, void* dst, size_t n) {
    std::lock_guard lock(mu_);
    Op op{kind, f, Buffer{static_cast<uint8_t*>(dst), n, -1}, off, n};
    BV_RETURN_IF_ERROR(Submit(&op));
    while (!op.finished) BV_RETURN_IF_ERROR(ReapOne());
    return op.result;
  }

 private:
  static std::vector<iovec> Iovecs(const BufferPool& pool) {
    std::vector<iovec> iov;
    for (size_t i = 0; i < pool.count(); i++) iov.push_back({pool.at(i).data, pool.at(i).size});
    return iov;
  }
  // Fills the pool's slots of the sparse table, starting at `first`.
  bool RegisterPool(const BufferPool& pool, unsigned first) {
    std::vector<iovec> iov = Iovecs(pool);
    return io_uring_register_buffers_update_tag(&ring_, first, iov.data(), nullptr, static_cast<unsigned>(iov.size())) ==
           static_cast<int>(iov.size());
  }

  Status Submit(Op* op, bool flush = true) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    while (sqe == nullptr) {
      // The submission queue is full: push it to the kernel and take a completion.
      BV_RETURN_IF_ERROR(ReapOne());
      sqe = io_uring_get_sqe(&ring_);
    }
    switch (op->kind) {
      case Op::kWrite:
        if (write_registered_) {
          io_uring_prep_write_fixed(sqe, op->file->fd(), op->buf.data + op->done,
                                    static_cast<unsigned>(op->len - op->done), op->off + op->done,
                                    op->buf.index);
        } else {
          io_uring_prep_write(sqe, op->file->fd(), op->buf.data + op->done,
                              static_cast<unsigned>(op->len - op->done), op->off + op->done);
        }
        break;
      case Op::kRead:
        io_uring_prep_read(sqe, op->file->fd(), op->buf.data + op->done,
                           static_cast<unsigned>(op->len - op->done), op->off + op->done);
        break;
      case Op::kBatchRead:
        if (op->fixed_index >= 0) {
          io_uring_prep_read_fixed(sqe, op->file->fd(), op->buf.data + op->done,
                                   static_cast<unsigned>(op->len - op->done), op->off + op->done, op->fixed_index);
        } else {
          io_uring_prep_read(sqe, op->file->fd(), op->buf.data + op->done,
                             static_cast<unsigned>(op->len - op->done), op->off + op->done);
        }
        break;
      case Op::kFsync:
        io_uring_prep_fsync(sqe, op->file->fd(), IORING_FSYNC_DATASYNC);
        break;
    }
    io_uring_sqe_set_data(sqe, op);
    inflight_++;
    unsubmitted_++;
    if (!flush || (op->kind == Op::kWrite && unsubmitted_ < kSubmitBatch)) return Status::Ok();
    return Flush();
  }

  Status Flush() {
    if (unsubmitted_ == 0) return Status::Ok();
    int rc = io_uring_submit(&ring_);
    if (rc < 0) return Status::FromErrno("io_uring_submit", -rc);
    unsubmitted_ = 0;
    return Status::Ok();
  }

  Status ReapOne() {
    BV_RETURN_IF_ERROR(Flush());  // whatever waits for a completion must not wait on a held write
    io_uring_cqe* cqe = nullptr;
    int rc;
    do {
      rc = io_uring_wait_cqe(&ring_, &cqe);
    } while (rc == -EINTR);
    if (rc < 0) return Status::FromErrno("io_uring_wait_cqe", -rc);
    auto* op = static_cast<Op*>(io_uring_cqe_get_data(cqe));
    const int res = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    inflight_--;
    return Complete(op, res);
  }

  Status Complete(Op* op, int res) {
    if (res == -EAGAIN || res == -EINTR) return Submit(op);
    if (op->kind != Op::kFsync && res > 0 && op->done + static_cast<size_t>(res) < op->len) {
      op->done += static_cast<size_t>(res);
      if (op->kind == Op::kWrite) return Submit(op);  // short write: continue where it stopped
      // A short batch read goes on from where it stopped, unless it stopped off the alignment a
      // direct file needs: that is the end of the file.
      if (op->kind == Op::kBatchRead && (!op->file->direct() || op->done % kAlign == 0)) return Submit(op);
    } else if (res >= 0 && op->kind != Op::kFsync) {
      op->done += static_cast<size_t>(res);
    }
    if (op->kind != Op::kWrite) {
      op->result = res < 0 ? res : static_cast<int>(op->done);
      op->finished = true;
      return Status::Ok();
    }
    UringFile* f = op->file;
    if (res < 0 && f->error.ok()) {
      f->error = Status::FromErrno("write " + f->path() + " at offset " + std::to_string(op->off), -res);
    } else if (res == 0 && f->error.ok()) {
      f->error = Status::IOError("write " + f->path() + " at offset " + std::to_string(op->off) +
                                 " wrote nothing");
    }
    f->pending--;
    pool_.Release(op->buf);
    delete op;
    return Status::Ok();
  }

  std::mutex mu_;
  io_uring ring_{};
  bool ready_ = false;
  bool sparse_ = false;  // the table was registered empty; pools fill it on first use
  bool write_tried_ = false, read_tried_ = false;
  bool write_registered_ = false;
  std::atomic<bool> read_registered_ = false;
  int inflight_ = 0;     // submitted or prepared, not yet completed
  int unsubmitted_ = 0;  // prepared, not yet handed to the kernel
  BufferPool pool_;
  BufferPool read_pool_;
};

UringFile::~UringFile() {
  (void)env_->WaitFile(this);
  ::close(fd_.fd);
}

Result<size_t> UringFile::ReadOnce(uint64_t off, void* dst, size_t n) {
  BV_ASSIGN_OR_RETURN(int res, env_->RunSync(Op::kRead, this, off, dst, n));
  if (res < 0) return Status::FromErrno("read " + path_ + " at offset " + std::to_string(off), -res);
  return static_cast<size_t>(res);
}

Status UringFile::SubmitWrite(uint64_t off, Buffer buf, size_t n) {
  BV_ASSERT(off % kAlign == 0 && n % kAlign == 0 && n <= buf.size);
  BV_RETURN_IF_ERROR(error);
  return env_->Write(this, off, buf, n);
}

Status UringFile::WaitWrites() { return env_->WaitFile(this); }

Status UringFile::DataSync() {
  BV_RETURN_IF_ERROR(WaitWrites());
  BV_ASSIGN_OR_RETURN(int res, env_->RunSync(Op::kFsync, this, 0, nullptr, 0));
  if (res < 0) return Status::FromErrno("fdatasync " + path_, -res);
  return Status::Ok();
}

}  // namespace

std::unique_ptr<Env> NewUringEnv(std::string* why) {
  auto env = std::make_unique<UringEnv>();
  if (!env->Init(why)) return nullptr;
  return env;
}

}  // namespace bv::io::internal
