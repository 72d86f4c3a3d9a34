// Walks the blocks of a segment image and says where and why it stops. Pure: bytes come from a
// ByteSource, so the same code reads a file, a buffer in a test, or a fuzzer's input.
// Spec: docs/format-spec.md §5 (finding the last valid block).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"
#include "format/block_format.h"

namespace bv::format {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual uint64_t Size() const = 0;
  // Reads up to n bytes at off into *out (fewer only at the end of the source).
  virtual Status Read(uint64_t off, size_t n, std::string* out) = 0;
};

class StringSource final : public ByteSource {
 public:
  explicit StringSource(std::string_view bytes) : bytes_(bytes) {}
  uint64_t Size() const override { return bytes_.size(); }
  Status Read(uint64_t off, size_t n, std::string* out) override;

 private:
  std::string_view bytes_;
};

struct ScannedBlock {
  uint64_t offset = 0;
  BlockHeader header;
  std::string payload;  // filled only when the scanner reads payloads
};

// Why a scan stopped.
enum class ScanStop {
  kNone,     // not stopped yet
  kEnd,      // end of the source at a block boundary (or after seal + padding)
  kTorn,     // an invalid block with no valid block after it: the torn tail of a dead writer
  kCorrupt,  // an invalid block with a valid block after it: damage in the middle
};

class SegmentScanner {
 public:
  // start is the offset of the first block (4096 for a whole segment).
  SegmentScanner(ByteSource* src, uint64_t start, bool read_payloads);

  // The next valid block, or nullopt when the scan stopped (see stop()). An I/O error from the
  // source is returned as an error.
  Result<std::optional<ScannedBlock>> Next();

  ScanStop stop() const { return stop_; }
  // Offset where the scan stopped: the end, or the first byte of the invalid block.
  uint64_t stop_offset() const { return offset_; }
  // What was wrong at stop_offset (for kTorn and kCorrupt).
  const Status& problem() const { return problem_; }
  // For kCorrupt: the offset of the next block whose header is valid.
  uint64_t resume_offset() const { return resume_; }
  // Continue after a kCorrupt stop, at resume_offset().
  void Resume();
  bool sealed() const { return sealed_; }
  uint64_t blocks() const { return blocks_; }

 private:
  Status Fail(const Status& why);
  // Offset of the first valid block header at or after `from`, if any.
  Result<std::optional<uint64_t>> FindValidHeader(uint64_t from);

  ByteSource* src_;
  uint64_t offset_;
  bool read_payloads_;
  ScanStop stop_ = ScanStop::kNone;
  Status problem_;
  uint64_t resume_ = 0;
  bool sealed_ = false;
  bool padding_after_seal_ = false;  // the padding block after the seal was seen
  uint64_t blocks_ = 0;
};

}  // namespace bv::format
