#include "io/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace bv::io {

const char* BackendName(Backend b) { return b == Backend::kUring ? "io_uring" : "sync"; }

Result<Backend> BackendFromEnvironment() {
  const char* v = std::getenv("BV_IO");
  if (v == nullptr || *v == '\0' || std::strcmp(v, "uring") == 0) return Backend::kUring;
  if (std::strcmp(v, "sync") == 0) return Backend::kSync;
  return Status::InvalidArgument(std::string("BV_IO=") + v + ": expected 'uring' or 'sync'");
}

std::unique_ptr<Env> Env::Create(Backend wanted) {
  if (wanted == Backend::kUring) {
    std::string why;
    if (auto env = internal::NewUringEnv(&why)) return env;
  }
  return internal::NewSyncEnv();
}

void Env::ReadPlainly(ReadRequest* r) {
  auto got = r->file->ReadAt(r->off, r->dst, r->n);
  r->got = got.ok() ? *got : 0;
  r->status = got.status();
}

Status Env::ReadBatch(std::span<ReadRequest> reqs) {
  Status first;
  for (ReadRequest& r : reqs) {
    ReadPlainly(&r);
    if (first.ok()) first = r.status;
  }
  return first;
}

Status Env::WriteFileAtomic(const std::string& path, std::string_view bytes, int mode) {
  return io::WriteFileAtomic(path, bytes, mode);
}
Result<std::string> Env::ReadSmallFile(const std::string& path, size_t max_size) {
  return io::ReadSmallFile(path, max_size);
}
Status Env::CreateFileExclusive(const std::string& path, std::string_view bytes, int mode) {
  return io::CreateFileExclusive(path, bytes, mode);
}
Status Env::SyncDir(const std::string& dir) { return io::SyncDir(dir); }
Status Env::MakeDirs(const std::string& dir, int mode) { return io::MakeDirs(dir, mode); }
Result<std::vector<std::string>> Env::ListDir(const std::string& dir) { return io::ListDir(dir); }
bool Env::PathExists(const std::string& path) { return io::PathExists(path); }
Status Env::RemoveFile(const std::string& path) { return io::RemoveFile(path); }
Result<std::unique_ptr<FileLock>> Env::LockFile(const std::string& path) { return io::LockFile(path); }

Env* SystemEnv() {
  static Env* const env = internal::NewSyncEnv().release();
  return env;
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open directory " + dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::FromErrno("fsync directory " + dir, err);
  return Status::Ok();
}

namespace {

// Writes all of `bytes` to fd; errno is set when it returns false.
bool WriteAll(int fd, std::string_view bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

static std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status WriteFileAtomic(const std::string& path, std::string_view bytes, int mode) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::FromErrno("create " + tmp, errno);
  if (!WriteAll(fd, bytes)) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Status::FromErrno("write " + tmp, err);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return Status::FromErrno("fsync " + tmp, err);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::FromErrno("rename " + tmp + " to " + path, err);
  }
  return SyncDir(DirName(path));
}

Result<std::string> ReadSmallFile(const std::string& path, size_t max_size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::FromErrno("open " + path, err);
  }
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Status::FromErrno("read " + path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_size) {
      ::close(fd);
      return Status::InvalidArgument(path + ": larger than " + std::to_string(max_size) + " bytes");
    }
  }
  ::close(fd);
  return out;
}

Status MakeDirs(const std::string& dir, int mode) {
  if (dir.empty()) return Status::Ok();
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::Ok();
    return Status::InvalidArgument(dir + " exists and is not a directory");
  }
  if (dir != "/" && dir != ".") BV_RETURN_IF_ERROR(MakeDirs(DirName(dir), mode));
  if (::mkdir(dir.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST) {
    return Status::FromErrno("mkdir " + dir, errno);
  }
  return Status::Ok();
}

Result<std::vector<std::string>> ListDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::FromErrno("open directory " + dir, errno);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(d);
  return names;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

Status RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Status::FromErrno("remove " + path, errno);
  return Status::Ok();
}

namespace {

class FlockLock final : public FileLock {
 public:
  explicit FlockLock(int fd) : fd_(fd) {}
  ~FlockLock() override { ::close(fd_); }  // closing the last descriptor releases the lock

 private:
  int fd_;
};

}  // namespace

Status CreateFileExclusive(const std::string& path, std::string_view bytes, int mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Status::FromErrno("create " + path, errno);
  const bool ok = WriteAll(fd, bytes) && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return Status::FromErrno("write " + path, err);
  }
  return Status::Ok();
}

Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("open " + path, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) return Status::Busy(path + " is locked by another process");
    return Status::FromErrno("lock " + path, err);
  }
  return std::unique_ptr<FileLock>(new FlockLock(fd));
}

}  // namespace bv::io
