#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

namespace bv::io {

namespace {

constexpr uint64_t kReleaseStep = 8 << 20;  // pages are dropped this many bytes at a time
constexpr size_t kMappedMax = 64;           // files mapped at once, for NameAt

// The live mappings, for NameAt in a signal handler: plain loads and stores only.
std::atomic<const MappedFile*> live[kMappedMax];

uint64_t PageSize() {
  static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

}  // namespace

Result<std::unique_ptr<MappedFile>> MappedFile::Map(int fd, const std::string& name) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::FromErrno("stat " + name, errno);
  if (!S_ISREG(st.st_mode) || st.st_size == 0) return std::unique_ptr<MappedFile>();
  // Standard input may be a file someone has read part of: it then goes on from there, by read.
  if (::lseek(fd, 0, SEEK_CUR) != 0) return std::unique_ptr<MappedFile>();
  const auto size = static_cast<uint64_t>(st.st_size);
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return std::unique_ptr<MappedFile>();  // a file system that cannot map: it is read
  (void)::madvise(p, size, MADV_SEQUENTIAL);
  // A descriptor of its own, to tell later whether the file has shrunk.
  const int own = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  return std::unique_ptr<MappedFile>(new MappedFile(static_cast<const char*>(p), size, own, name));
}

MappedFile::MappedFile(const char* data, uint64_t size, int fd, std::string name)
    : data_(data), size_(size), fd_(fd), name_(std::move(name)) {
  for (auto& slot : live) {
    const MappedFile* empty = nullptr;
    if (slot.compare_exchange_strong(empty, this)) break;
  }
}

MappedFile::~MappedFile() {
  for (auto& slot : live) {
    const MappedFile* self = this;
    if (slot.compare_exchange_strong(self, nullptr)) break;
  }
  ::munmap(const_cast<char*>(data_), size_);
  if (fd_ >= 0) ::close(fd_);
}

Status MappedFile::Populate(uint64_t off, size_t n) {
  BV_ASSERT(off <= size_ && n <= size_ - off);
  if (n == 0) return Status::Ok();
  const uint64_t start = off / PageSize() * PageSize();
  if (::madvise(const_cast<char*>(data_) + start, off + n - start, MADV_POPULATE_READ) == 0) return Status::Ok();
  if (errno == EINVAL) return Status::Ok();  // a kernel before 5.14: pages fault in as they are read
  if (errno == EFAULT) {  // reading them would raise SIGBUS: the file is shorter now, or unreadable
    struct stat st;
    if (fd_ >= 0 && ::fstat(fd_, &st) == 0 && static_cast<uint64_t>(st.st_size) < off + n) {
      return Status::IOError(name_ + " shrank while it was being read: it was " + std::to_string(size_) +
                             " bytes, now " + std::to_string(st.st_size));
    }
    return Status::IOError("read " + name_ + ": bytes " + std::to_string(off) + " to " + std::to_string(off + n) +
                           " cannot be read (an I/O error, or the file shrank)");
  }
  return Status::FromErrno("read " + name_ + " at offset " + std::to_string(off), errno);
}

void MappedFile::Release(uint64_t n) {
  n = std::min(n, size_) / PageSize() * PageSize();
  if (n < released_ + kReleaseStep && n < size_ / PageSize() * PageSize()) return;
  if (n > released_) (void)::madvise(const_cast<char*>(data_) + released_, n - released_, MADV_DONTNEED);
  released_ = std::max(released_, n);
}

const char* MappedFile::NameAt(const void* addr) {
  const auto* a = static_cast<const char*>(addr);
  for (auto& slot : live) {
    const MappedFile* m = slot.load();
    if (m != nullptr && a >= m->data_ && a < m->data_ + m->size_) return m->name_.c_str();
  }
  return nullptr;
}

}  // namespace bv::io
