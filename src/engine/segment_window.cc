#include "engine/segment_window.h"

#include <algorithm>
#include <cstdlib>

#include "io/buffer_pool.h"

namespace bv::engine {

SegmentWindow::~SegmentWindow() { std::free(window_); }

void SegmentWindow::Attach(std::shared_ptr<io::File> file, uint64_t size) {
  file_ = std::move(file);
  size_ = size;
  len_ = 0;
}

Status SegmentWindow::Attach(std::shared_ptr<io::File> file) {
  BV_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  Attach(std::move(file), size);
  return Status::Ok();
}

Result<std::string_view> SegmentWindow::View(uint64_t off, size_t n) {
  BV_ASSERT(file_ != nullptr);
  if (len_ == 0 || off < start_ || off + n > start_ + len_) {
    const uint64_t start = off / io::kAlign * io::kAlign;
    // A request larger than the window (a big block) gets a window of its own size.
    const size_t want = std::max(capacity_, (off + n - start + io::kAlign - 1) / io::kAlign * io::kAlign);
    if (want > window_cap_) {
      std::free(window_);
      window_ = io::AllocAligned(want);
      window_cap_ = want;
    }
    len_ = 0;
    BV_ASSIGN_OR_RETURN(size_t got, file_->ReadAt(start, window_, want));
    start_ = start;
    len_ = got;
  }
  BV_ASSERT(off >= start_);
  const size_t have = off < start_ + len_ ? static_cast<size_t>(std::min<uint64_t>(n, start_ + len_ - off)) : 0;
  return std::string_view(reinterpret_cast<const char*>(window_) + (off - start_), have);
}

Status SegmentWindow::Read(uint64_t off, size_t n, std::string* out) {
  out->clear();
  if (off >= size_) return Status::Ok();
  n = static_cast<size_t>(std::min<uint64_t>(n, size_ - off));
  if (n > capacity_ / 2) {
    // A long read (the scanner's search for the next valid header) past the window: read as is.
    out->resize(n);
    BV_ASSIGN_OR_RETURN(size_t got, file_->ReadAt(off, out->data(), n));
    out->resize(got);
    return Status::Ok();
  }
  BV_ASSIGN_OR_RETURN(std::string_view v, View(off, n));
  out->assign(v);
  return Status::Ok();
}

}  // namespace bv::engine
