// An Env for tests that simulates a power cut: every byte written after a file's last fdatasync
// may be lost, and the last sector that did reach the disk may be torn. It wraps a real Env, so
// everything else is real files and real I/O. Replays from its seed.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "io/env.h"

namespace bv::io {

class FaultInjectionEnv final : public Env {
 public:
  explicit FaultInjectionEnv(std::unique_ptr<Env> base) : base_(std::move(base)) {}

  Backend backend() const override { return base_->backend(); }
  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override;
  Result<Buffer> AcquireBuffer() override { return base_->AcquireBuffer(); }
  void ReleaseBuffer(Buffer b) override { base_->ReleaseBuffer(b); }
  Status WriteFileAtomic(const std::string& path, std::string_view bytes, int mode) override;
  Result<std::string> ReadSmallFile(const std::string& path, size_t max_size) override;
  Status CreateFileExclusive(const std::string& path, std::string_view bytes, int mode) override;
  Status SyncDir(const std::string& dir) override;
  Status MakeDirs(const std::string& dir, int mode) override;
  Result<std::vector<std::string>> ListDir(const std::string& dir) override;
  Status RemoveFile(const std::string& path) override;
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override;

  // Operations a test can make fail.
  enum class Op {
    kOpen, kRead, kWrite, kSync, kTruncate, kSize,                      // files
    kWriteSmall, kReadSmall, kCreateExclusive, kLock,                   // whole small files, locks
    kSyncDir, kMakeDirs, kListDir, kRemove,                             // directories
  };
  static const char* OpName(Op op);
  // From now on every `op` on a path that contains `path_part` fails with an I/O error that
  // names the operation and the path, until ClearFaults.
  void FailOn(Op op, std::string path_part);
  void ClearFaults();
  // Called before each operation (by its files too): the armed fault's error, or Ok.
  Status Fault(Op op, const std::string& path);

  // For every file written through this Env: keep the synced prefix; of what followed, either
  // keep a random part (in 512-byte sectors) with part of the last kept sector torn, or keep it
  // all but a hole of zeros (writes that landed out of order).
  // Call after every File of this Env is closed. Returns the number of bytes dropped.
  Result<uint64_t> SimulatePowerLoss(uint64_t seed);
  // The harshest power cut: every file loses everything after its last fdatasync.
  Result<uint64_t> DropUnsynced();

  // A disk that fills up: writes through this Env may add this many more bytes in all; the
  // write that would go past fails with ENOSPC. Unlimited by default.
  void SetSpaceLeft(uint64_t bytes);

  // The process dies at the n-th DataSync from now (1 = the next one): that sync and every
  // write, sync and truncation after it fail, as if nothing more reached the disk. What other
  // stores (the RocksDB index) made durable before that moment stays.
  void CrashAtSync(uint64_t n);
  bool crashed();
  // Called by its files before a sync; false when the process is dead.
  bool SyncAllowed();

  // Called by its files.
  void Synced(const std::string& path, uint64_t size);
  // Takes n bytes of the space left, or says there is not enough.
  bool TakeSpace(uint64_t n);

 private:
  // Under mu_: fn for every file written through this Env that still exists, open read-write;
  // then every file counts as synced again and the crash is over.
  Status ForEachWrittenFile(const std::function<Status(int fd, const std::string& path, uint64_t synced,
                                                       uint64_t size)>& fn);

  std::unique_ptr<Env> base_;
  std::mutex mu_;
  std::map<std::string, uint64_t> synced_;  // path -> bytes known durable
  uint64_t space_left_ = std::numeric_limits<uint64_t>::max();
  uint64_t syncs_to_crash_ = 0;  // 0: no crash planned
  bool crashed_ = false;
  std::vector<std::pair<Op, std::string>> faults_;
};

}  // namespace bv::io
