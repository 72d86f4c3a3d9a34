// Reads blocks by location. Keeps a few segment files open and reads ahead in an aligned window,
// so a restore that walks a segment in order issues large reads.
#pragma once

#include <list>
#include <memory>
#include <string>
#include <string_view>

#include "engine/index.h"
#include "format/block_format.h"
#include "io/env.h"

namespace bv::engine {

class SegmentReader {
 public:
  // `window`: bytes read ahead at a time.
  SegmentReader(io::Env* env, std::string segments_dir, size_t window = 4 << 20)
      : env_(env), dir_(std::move(segments_dir)), window_size_(window) {}
  ~SegmentReader();
  SegmentReader(const SegmentReader&) = delete;
  SegmentReader& operator=(const SegmentReader&) = delete;

  // The block at loc, header checked (and matching loc's sizes), body checksum checked. The
  // returned payload view is valid until the next call.
  Status ReadBlock(const Location& loc, format::BlockHeader* h, std::string_view* payload);
  // Raw bytes (no checks), for inspection tools.
  Status ReadRaw(uint64_t segment, uint64_t off, size_t n, std::string* out);
  // The segment's file, kept open among the few most recently used.
  Result<io::File*> File(uint64_t segment);

 private:
  Status Fill(uint64_t segment, uint64_t off, size_t n);

  static constexpr size_t kOpenFilesMax = 16;
  io::Env* env_;
  std::string dir_;
  size_t window_size_;
  std::list<std::pair<uint64_t, std::unique_ptr<io::File>>> files_;  // most recent first
  uint8_t* window_ = nullptr;
  size_t window_cap_ = 0;
  uint64_t window_segment_ = 0;
  uint64_t window_start_ = 0;
  size_t window_len_ = 0;
};

}  // namespace bv::engine
