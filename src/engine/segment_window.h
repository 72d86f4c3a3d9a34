// An aligned window over one segment file: reads ahead `capacity` bytes at a time, so walking a
// segment in order (a restore's recipe pieces, a scan, a rebuild) issues large aligned reads that
// O_DIRECT accepts. Also the scanner's format::ByteSource.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "format/segment_scanner.h"
#include "io/file.h"

namespace bv::engine {

class SegmentWindow final : public format::ByteSource {
 public:
  static constexpr size_t kDefaultCapacity = 4 << 20;

  explicit SegmentWindow(size_t capacity = kDefaultCapacity) : capacity_(capacity) {}
  ~SegmentWindow() override;
  SegmentWindow(const SegmentWindow&) = delete;
  SegmentWindow& operator=(const SegmentWindow&) = delete;

  // Reads from `file` from now on; `size` is the file's size as the caller saw it.
  void Attach(std::shared_ptr<io::File> file, uint64_t size);
  // Attaches `file` with its size read now.
  Status Attach(std::shared_ptr<io::File> file);
  io::File* file() const { return file_.get(); }

  // Bytes [off, off + n) of the file, read into the window unless it holds them already; fewer
  // than n only at the end of the file. Valid until the next call.
  Result<std::string_view> View(uint64_t off, size_t n);

  uint64_t Size() const override { return size_; }
  Status Read(uint64_t off, size_t n, std::string* out) override;

 private:
  size_t capacity_;
  std::shared_ptr<io::File> file_;
  uint64_t size_ = 0;
  uint8_t* window_ = nullptr;
  size_t window_cap_ = 0;
  uint64_t start_ = 0;  // the file offset of window_[0]
  size_t len_ = 0;      // bytes of the file in the window
};

}  // namespace bv::engine
