// Reads blocks by location through the volume's shared segment files, reading ahead in an
// aligned window, so a restore that walks a segment in order issues large reads. One per reader
// thread: the window is its own.
#pragma once

#include <memory>
#include <string_view>

#include "engine/index.h"
#include "engine/segment_files.h"
#include "engine/segment_window.h"
#include "format/block_format.h"

namespace bv::engine {

class SegmentReader {
 public:
  // `window`: bytes read ahead at a time.
  explicit SegmentReader(SegmentFiles* files, size_t window = SegmentWindow::kDefaultCapacity)
      : files_(files), window_(window) {}
  SegmentReader(const SegmentReader&) = delete;
  SegmentReader& operator=(const SegmentReader&) = delete;

  // The block at loc, header checked (and matching loc's sizes), body checksum checked. The
  // returned payload view is valid until the next call.
  Status ReadBlock(const Location& loc, format::BlockHeader* h, std::string_view* payload);
  // The segment's file, open to read. A segment the index places blocks in that is gone is
  // damage (Corruption), not a passing I/O error.
  Result<std::shared_ptr<io::File>> File(uint64_t segment, SegmentAccess access = SegmentAccess::kDirect);

 private:
  SegmentFiles* files_;
  SegmentWindow window_;
  uint64_t window_segment_ = 0;  // the segment attached to window_, 0 for none
};

}  // namespace bv::engine
