#include "engine/segment_files.h"

#include <algorithm>

#include "format/segment_format.h"

namespace bv::engine {

std::string SegmentFiles::Path(uint64_t segment) const { return dir_ + "/" + format::SegmentFileName(segment); }

std::string SegmentFiles::Name(uint64_t segment) { return "segment " + format::SegmentFileName(segment); }

std::string SegmentFiles::LostAndFoundDir() const {
  const size_t slash = dir_.rfind('/');
  return (slash == std::string::npos ? std::string(".") : dir_.substr(0, slash)) + "/lost+found";
}

Result<std::vector<uint64_t>> SegmentFiles::List() const {
  BV_ASSIGN_OR_RETURN(auto names, env_->ListDir(dir_));
  std::vector<uint64_t> numbers;
  for (const std::string& n : names) {
    uint64_t num;
    if (format::ParseSegmentFileName(n, &num)) numbers.push_back(num);
  }
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

Result<std::shared_ptr<io::File>> SegmentFiles::Open(uint64_t segment, SegmentAccess access) {
  {
    std::lock_guard lock(mu_);
    for (auto it = open_.begin(); it != open_.end(); ++it) {
      if (it->segment == segment && it->access == access) {
        open_.splice(open_.begin(), open_, it);
        return open_.front().file;
      }
    }
  }
  // Opened outside the lock: one slow open (a cold disk) holds up no other reader.
  const io::OpenMode mode = access == SegmentAccess::kCached ? io::OpenMode::kReadCached : io::OpenMode::kRead;
  BV_ASSIGN_OR_RETURN(std::unique_ptr<io::File> f, env_->Open(Path(segment), mode));
  std::shared_ptr<io::File> file(std::move(f));
  std::lock_guard lock(mu_);
  open_.push_front(Entry{segment, access, file});
  if (open_.size() > kOpenFilesMax) open_.pop_back();
  BV_ASSERT(open_.size() <= kOpenFilesMax);
  return file;
}

void SegmentFiles::Forget(uint64_t segment) {
  std::lock_guard lock(mu_);
  open_.remove_if([segment](const Entry& e) { return e.segment == segment; });
}

Result<uint64_t> SegmentFiles::FileSize(uint64_t segment) {
  auto f = env_->Open(Path(segment), io::OpenMode::kReadCached);
  if (!f.ok() && f.status().IsNotFound()) return uint64_t{0};  // removed since it was listed
  if (!f.ok()) return f.status();
  return (*f)->Size();
}

Result<uint64_t> SegmentFiles::TotalBytes() {
  BV_ASSIGN_OR_RETURN(std::vector<uint64_t> segments, List());
  uint64_t total = 0;
  for (uint64_t n : segments) {
    BV_ASSIGN_OR_RETURN(uint64_t size, FileSize(n));
    total += size;
  }
  return total;
}

}  // namespace bv::engine
