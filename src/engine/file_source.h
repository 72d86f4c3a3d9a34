// A segment file as a format::ByteSource, for the scanner. Reads ahead in an aligned window so
// a scan issues large reads.
#pragma once

#include <cstdlib>
#include <cstring>

#include "format/segment_scanner.h"
#include "io/file.h"

namespace bv::engine {

class FileSource final : public format::ByteSource {
 public:
  explicit FileSource(io::File* f) : file_(f) {}
  ~FileSource() override { std::free(window_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  Status Init() {
    BV_ASSIGN_OR_RETURN(size_, file_->Size());
    return Status::Ok();
  }
  uint64_t Size() const override { return size_; }
  Status Read(uint64_t off, size_t n, std::string* out) override {
    out->clear();
    if (off >= size_) return Status::Ok();
    n = static_cast<size_t>(std::min<uint64_t>(n, size_ - off));
    if (n > kWindow / 2) {
      out->resize(n);
      BV_ASSIGN_OR_RETURN(size_t got, file_->ReadAt(off, out->data(), n));
      out->resize(got);
      return Status::Ok();
    }
    if (window_ == nullptr || off < start_ || off + n > start_ + len_) {
      if (window_ == nullptr) window_ = io::AllocAligned(kWindow);
      start_ = off / io::kAlign * io::kAlign;
      len_ = 0;
      BV_ASSIGN_OR_RETURN(len_, file_->ReadAt(start_, window_, kWindow));
    }
    const size_t have = off < start_ + len_ ? static_cast<size_t>(std::min<uint64_t>(n, start_ + len_ - off)) : 0;
    out->assign(reinterpret_cast<const char*>(window_) + (off - start_), have);
    return Status::Ok();
  }

 private:
  static constexpr size_t kWindow = 4 << 20;
  io::File* file_;
  uint64_t size_ = 0;
  uint8_t* window_ = nullptr;
  uint64_t start_ = 0;
  size_t len_ = 0;
};

}  // namespace bv::engine
