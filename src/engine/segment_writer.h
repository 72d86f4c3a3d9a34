// Appends blocks to the active segment through pool buffers, in aligned writes only; pads to a
// page boundary at every sync point, so no durable byte is ever written twice. Rotates to a new
// segment (sealing the old one) when a block would not fit.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/index.h"
#include "engine/segment_files.h"
#include "format/segment_format.h"

namespace bv::engine {

class SegmentWriter {
 public:
  // Continues segment `number` at offset `end` (a block boundary after recovery), or creates it
  // when end == 0.
  static Result<std::unique_ptr<SegmentWriter>> Open(SegmentFiles* files, const format::VolumeParams& params,
                                                     uint64_t number, uint64_t end, uint64_t blocks);
  ~SegmentWriter();

  // Appends one whole block (header and payload); returns where it went.
  Result<Location> Append(std::string_view block);
  // Pads to a page boundary, writes everything, fdatasyncs. Everything appended so far is durable
  // when it returns.
  Status Sync();
  // Seals the segment being written (unless it holds no block yet) and starts the next, as a
  // rotation does: compaction seals a mostly dead segment so that it may rewrite it.
  Status Seal();
  uint64_t number() const { return number_; }
  // Records in the batch the state of every segment touched since the last call. Call after Sync.
  void RecordStates(IndexBatch* batch);

  uint64_t segment() const { return number_; }
  uint64_t offset() const { return buf_start_ + used_; }

 private:
  SegmentWriter(SegmentFiles* files, const format::VolumeParams& params)
      : files_(files), env_(files->env()), params_(params) {}
  Status Create(uint64_t number);
  Status Resume(uint64_t number, uint64_t end);
  Status Put(std::string_view bytes);  // into the buffer, submitting full buffers
  Status Pad();
  Status SubmitBuffer();
  Status Rotate();

  SegmentFiles* files_;
  io::Env* env_;
  format::VolumeParams params_;
  std::unique_ptr<io::File> file_;
  uint64_t number_ = 0;
  uint64_t blocks_ = 0;
  io::Buffer buf_;
  uint64_t buf_start_ = 0;  // file offset of buf_.data[0], page aligned
  size_t used_ = 0;
  struct Sealed {
    uint64_t number;
    SegmentState state;
  };
  std::vector<Sealed> sealed_;
};

}  // namespace bv::engine
