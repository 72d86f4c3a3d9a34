// One pass over the blocks of a segment file: open it, read its header, walk its blocks with the
// format's scanner, and at every stop say where it is, why, and what the bad block's header (if it
// reads) says it held. Recovery, fsck and inspect all read segments through this.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "engine/segment_files.h"
#include "engine/segment_window.h"
#include "format/segment_format.h"
#include "format/segment_scanner.h"

namespace bv::engine {

// Where and why a scan stopped.
struct ScanStopInfo {
  format::ScanStop stop = format::ScanStop::kNone;  // kEnd, kTorn or kCorrupt
  uint64_t offset = 0;   // the end, or the first byte of the block that does not read
  uint64_t resume = 0;   // kCorrupt: the next valid block header
  Status problem;        // kTorn, kCorrupt: what is wrong at `offset`
  std::optional<format::BlockHeader> header;  // kTorn, kCorrupt: the bad block's header, if it decodes
};

class SegmentScan {
 public:
  // Segment `segment` of `files`; `writable` for a recovery that may cut its tail (then opened
  // apart from the readers' cache).
  static Result<std::unique_ptr<SegmentScan>> Open(SegmentFiles* files, uint64_t segment, bool writable);
  // A file of blocks from offset 0 with no segment header (a copy kept in lost+found/).
  static Result<std::unique_ptr<SegmentScan>> OpenHeaderless(io::Env* env, const std::string& path);

  uint64_t size() const { return window_.Size(); }
  io::File* file() const { return window_.file(); }
  // The segment header, when it decodes; header_problem() says why not.
  const std::optional<format::SegmentHeader>& header() const { return header_; }
  const Status& header_problem() const { return header_problem_; }

  using BlockFn = std::function<Status(const format::ScannedBlock&)>;
  // At every stop but a clean end; returns whether to go on past it (only a kCorrupt stop can).
  using StopFn = std::function<Result<bool>(const ScanStopInfo&)>;
  // Walks the blocks from `from` (payloads read when asked), until the end, a torn tail, or damage
  // that `on_stop` does not go past. Returns that last stop.
  Result<ScanStopInfo> Blocks(uint64_t from, bool read_payloads, const BlockFn& on_block, const StopFn& on_stop);
  // After Blocks: whether the segment ends in a seal block.
  bool sealed() const { return sealed_; }

 private:
  SegmentScan() = default;
  Status ReadHeader();

  SegmentWindow window_;
  std::optional<format::SegmentHeader> header_;
  Status header_problem_;
  bool sealed_ = false;
};

}  // namespace bv::engine
