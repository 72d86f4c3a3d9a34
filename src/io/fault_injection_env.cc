#include "io/fault_injection_env.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <random>

#include "io/posix_open.h"

namespace bv::io {

namespace {

class FaultFile final : public File {
 public:
  FaultFile(std::unique_ptr<File> base, FaultInjectionEnv* env) : File(base->path()), base_(std::move(base)), env_(env) {}

  Result<size_t> ReadOnce(uint64_t off, void* dst, size_t n) override {
    BV_RETURN_IF_ERROR(env_->Fault(FaultInjectionEnv::Op::kRead, path_));
    return base_->ReadAt(off, dst, n);
  }
  Status SubmitWrite(uint64_t off, Buffer buf, size_t n) override {
    if (Status s = env_->Fault(FaultInjectionEnv::Op::kWrite, path_); !s.ok()) {
      env_->ReleaseBuffer(buf);
      return s;
    }
    if (env_->crashed()) {
      env_->ReleaseBuffer(buf);
      return Status::IOError("write " + path_ + ": the process has crashed (simulated)");
    }
    if (!env_->TakeSpace(n)) {
      env_->ReleaseBuffer(buf);
      return Status::FromErrno("write " + path_ + " at offset " + std::to_string(off), ENOSPC);
    }
    return base_->SubmitWrite(off, buf, n);
  }
  Status WaitWrites() override { return base_->WaitWrites(); }
  Status DataSync() override {
    BV_RETURN_IF_ERROR(env_->Fault(FaultInjectionEnv::Op::kSync, path_));
    if (!env_->SyncAllowed()) return Status::IOError("fdatasync " + path_ + ": the process has crashed (simulated)");
    BV_RETURN_IF_ERROR(base_->DataSync());
    BV_ASSIGN_OR_RETURN(uint64_t size, base_->Size());
    env_->Synced(path_, size);
    return Status::Ok();
  }
  Status Truncate(uint64_t size) override {
    BV_RETURN_IF_ERROR(env_->Fault(FaultInjectionEnv::Op::kTruncate, path_));
    if (env_->crashed()) return Status::IOError("truncate " + path_ + ": the process has crashed (simulated)");
    return base_->Truncate(size);
  }
  Result<uint64_t> Size() override {
    BV_RETURN_IF_ERROR(env_->Fault(FaultInjectionEnv::Op::kSize, path_));
    return base_->Size();
  }
  Result<bool> Linked() override { return base_->Linked(); }
  bool direct() const override { return false; }  // ReadOnce goes through the base's ReadAt
  int fd() const override { return base_->fd(); }

 private:
  std::unique_ptr<File> base_;
  FaultInjectionEnv* env_;
};

}  // namespace

Result<std::unique_ptr<File>> FaultInjectionEnv::Open(const std::string& path, OpenMode mode) {
  BV_RETURN_IF_ERROR(Fault(Op::kOpen, path));
  BV_ASSIGN_OR_RETURN(auto f, base_->Open(path, mode));
  if (mode != OpenMode::kRead) {
    std::lock_guard lock(mu_);
    if (mode == OpenMode::kCreate) {
      synced_[path] = 0;  // the directory entry is synced by the creator; the contents are not
    } else if (!synced_.count(path)) {
      BV_ASSIGN_OR_RETURN(synced_[path], f->Size());  // what was there before is durable
    }
  }
  return std::unique_ptr<File>(new FaultFile(std::move(f), this));
}

const char* FaultInjectionEnv::OpName(Op op) {
  switch (op) {
    case Op::kOpen: return "open";
    case Op::kRead: return "read";
    case Op::kWrite: return "write";
    case Op::kSync: return "fdatasync";
    case Op::kTruncate: return "truncate";
    case Op::kSize: return "stat";
    case Op::kWriteSmall: return "write";
    case Op::kReadSmall: return "read";
    case Op::kCreateExclusive: return "create";
    case Op::kLock: return "lock";
    case Op::kSyncDir: return "fsync directory";
    case Op::kMakeDirs: return "mkdir";
    case Op::kListDir: return "list directory";
    case Op::kRemove: return "remove";
  }
  return "?";
}

void FaultInjectionEnv::FailOn(Op op, std::string path_part) {
  std::lock_guard lock(mu_);
  faults_.emplace_back(op, std::move(path_part));
}

void FaultInjectionEnv::ClearFaults() {
  std::lock_guard lock(mu_);
  faults_.clear();
}

Status FaultInjectionEnv::Fault(Op op, const std::string& path) {
  std::lock_guard lock(mu_);
  for (const auto& [o, part] : faults_) {
    if (o == op && path.find(part) != std::string::npos) {
      return Status::IOError(std::string(OpName(op)) + " " + path + ": injected fault");
    }
  }
  return Status::Ok();
}

Status FaultInjectionEnv::WriteFileAtomic(const std::string& path, std::string_view bytes, int mode) {
  BV_RETURN_IF_ERROR(Fault(Op::kWriteSmall, path));
  return base_->WriteFileAtomic(path, bytes, mode);
}

Result<std::string> FaultInjectionEnv::ReadSmallFile(const std::string& path, size_t max_size) {
  BV_RETURN_IF_ERROR(Fault(Op::kReadSmall, path));
  return base_->ReadSmallFile(path, max_size);
}

Status FaultInjectionEnv::CreateFileExclusive(const std::string& path, std::string_view bytes, int mode) {
  BV_RETURN_IF_ERROR(Fault(Op::kCreateExclusive, path));
  return base_->CreateFileExclusive(path, bytes, mode);
}

Status FaultInjectionEnv::SyncDir(const std::string& dir) {
  BV_RETURN_IF_ERROR(Fault(Op::kSyncDir, dir));
  return base_->SyncDir(dir);
}

Status FaultInjectionEnv::MakeDirs(const std::string& dir, int mode) {
  BV_RETURN_IF_ERROR(Fault(Op::kMakeDirs, dir));
  return base_->MakeDirs(dir, mode);
}

Result<std::vector<std::string>> FaultInjectionEnv::ListDir(const std::string& dir) {
  BV_RETURN_IF_ERROR(Fault(Op::kListDir, dir));
  return base_->ListDir(dir);
}

Status FaultInjectionEnv::RemoveFile(const std::string& path) {
  BV_RETURN_IF_ERROR(Fault(Op::kRemove, path));
  return base_->RemoveFile(path);
}

Result<std::unique_ptr<FileLock>> FaultInjectionEnv::LockFile(const std::string& path) {
  BV_RETURN_IF_ERROR(Fault(Op::kLock, path));
  return base_->LockFile(path);
}

void FaultInjectionEnv::SetSpaceLeft(uint64_t bytes) {
  std::lock_guard lock(mu_);
  space_left_ = bytes;
}

void FaultInjectionEnv::CrashAtSync(uint64_t n) {
  std::lock_guard lock(mu_);
  syncs_to_crash_ = n;
}

bool FaultInjectionEnv::crashed() {
  std::lock_guard lock(mu_);
  return crashed_;
}

bool FaultInjectionEnv::SyncAllowed() {
  std::lock_guard lock(mu_);
  if (crashed_) return false;
  if (syncs_to_crash_ > 0 && --syncs_to_crash_ == 0) crashed_ = true;
  return !crashed_;
}

bool FaultInjectionEnv::TakeSpace(uint64_t n) {
  std::lock_guard lock(mu_);
  if (n > space_left_) return false;
  space_left_ -= n;
  return true;
}

void FaultInjectionEnv::Synced(const std::string& path, uint64_t size) {
  std::lock_guard lock(mu_);
  synced_[path] = size;
}

Status FaultInjectionEnv::ForEachWrittenFile(const std::function<Status(int fd, const std::string& path, uint64_t synced,
                                                                       uint64_t size)>& fn) {
  for (const auto& [path, synced] : synced_) {
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) continue;  // removed since it was written
    if (fd < 0) return Status::FromErrno("open " + path, errno);
    auto size = internal::FdSize(fd, path);
    Status s = size.ok() ? fn(fd, path, synced, *size) : size.status();
    ::close(fd);
    BV_RETURN_IF_ERROR(s);
  }
  synced_.clear();
  crashed_ = false;
  syncs_to_crash_ = 0;
  return Status::Ok();
}

Result<uint64_t> FaultInjectionEnv::DropUnsynced() {
  std::lock_guard lock(mu_);
  uint64_t dropped = 0;
  BV_RETURN_IF_ERROR(ForEachWrittenFile([&](int fd, const std::string& path, uint64_t synced, uint64_t size) {
    if (size <= synced) return Status::Ok();
    dropped += size - synced;
    return internal::FdTruncate(fd, path, synced);
  }));
  return dropped;
}

namespace {

constexpr uint64_t kSector = 512;

// Writes in flight together landed out of order: a later one is whole, an earlier one never
// arrived, leaving a hole of zeros inside the unsynced region. Returns the bytes zeroed.
Result<uint64_t> PunchHole(int fd, const std::string& path, uint64_t synced, uint64_t size, std::mt19937_64* rng) {
  const uint64_t sectors = (size - synced) / kSector;
  if (sectors < 2) return uint64_t{0};
  const uint64_t first = (*rng)() % (sectors - 1);
  const uint64_t count = 1 + (*rng)() % (sectors - 1 - first);
  std::string zeros(count * kSector, '\0');
  if (::pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(synced + first * kSector)) < 0) {
    return Status::FromErrno("write " + path, errno);
  }
  return uint64_t{zeros.size()};
}

// Keeps a random number of the unsynced sectors; the last one kept may be torn (its tail is
// whatever the disk held). Returns the bytes cut.
Result<uint64_t> TearTail(int fd, const std::string& path, uint64_t synced, uint64_t size, std::mt19937_64* rng) {
  const uint64_t unsynced_sectors = (size - synced + kSector - 1) / kSector;
  const uint64_t keep = std::min(size, synced + ((*rng)() % (unsynced_sectors + 1)) * kSector);
  BV_RETURN_IF_ERROR(internal::FdTruncate(fd, path, keep));
  if (keep > synced && (*rng)() % 2 == 0) {
    const uint64_t start = std::max(synced, keep - kSector) + (*rng)() % kSector;
    std::string junk(keep - std::min(keep, start), '\0');
    for (char& c : junk) c = static_cast<char>((*rng)());
    if (!junk.empty() && ::pwrite(fd, junk.data(), junk.size(), static_cast<off_t>(start)) < 0) {
      return Status::FromErrno("write " + path, errno);
    }
  }
  return size - keep;
}

}  // namespace

Result<uint64_t> FaultInjectionEnv::SimulatePowerLoss(uint64_t seed) {
  std::lock_guard lock(mu_);
  std::mt19937_64 rng(seed);
  uint64_t dropped = 0;
  BV_RETURN_IF_ERROR(ForEachWrittenFile([&](int fd, const std::string& path, uint64_t synced, uint64_t size) {
    if (size <= synced) return Status::Ok();
    auto lost = rng() % 3 == 0 ? PunchHole(fd, path, synced, size, &rng) : TearTail(fd, path, synced, size, &rng);
    if (!lost.ok()) return lost.status();
    dropped += *lost;
    return Status::Ok();
  }));
  return dropped;
}

}  // namespace bv::io
