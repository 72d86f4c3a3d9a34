#include "engine/segment_writer.h"

#include <cstring>

#include "format/block_format.h"
#include "format/coding.h"

namespace bv::engine {

using format::kBlockHeaderSize;
using format::kPageSize;

Result<std::unique_ptr<SegmentWriter>> SegmentWriter::Open(SegmentFiles* files, const format::VolumeParams& params,
                                                           uint64_t number, uint64_t end, uint64_t blocks) {
  std::unique_ptr<SegmentWriter> w(new SegmentWriter(files, params));
  if (end == 0) {
    BV_RETURN_IF_ERROR(w->Create(number));
  } else {
    BV_RETURN_IF_ERROR(w->Resume(number, end));
    w->blocks_ = blocks;
  }
  return w;
}

SegmentWriter::~SegmentWriter() {
  if (buf_.data != nullptr) env_->ReleaseBuffer(buf_);
}

Status SegmentWriter::Create(uint64_t number) {
  BV_ASSIGN_OR_RETURN(file_, env_->Open(files_->Path(number), io::OpenMode::kCreate));
  BV_RETURN_IF_ERROR(env_->SyncDir(files_->dir()));
  number_ = number;
  blocks_ = 0;
  if (buf_.data == nullptr) {
    BV_ASSIGN_OR_RETURN(buf_, env_->AcquireBuffer());
  }
  buf_start_ = 0;
  used_ = 0;
  return Put(format::EncodeSegmentHeader({number, params_}));
}

Status SegmentWriter::Resume(uint64_t number, uint64_t end) {
  const std::string path = files_->Path(number);
  BV_ASSIGN_OR_RETURN(file_, env_->Open(path, io::OpenMode::kReadWrite));
  BV_ASSIGN_OR_RETURN(uint64_t size, file_->Size());
  if (size != end) return Status::Corruption(path + ": is " + std::to_string(size) + " bytes, expected " + std::to_string(end));
  number_ = number;
  BV_ASSIGN_OR_RETURN(buf_, env_->AcquireBuffer());
  // Recovery may have truncated inside a page: the page's valid prefix is read back and written
  // again unchanged with the next block.
  buf_start_ = end / kPageSize * kPageSize;
  used_ = end - buf_start_;
  if (used_ > 0) {
    BV_ASSIGN_OR_RETURN(size_t got, file_->ReadAt(buf_start_, buf_.data, kPageSize));
    if (got != used_) return Status::IOError(path + ": short read of the last page");
  }
  return Status::Ok();
}

Status SegmentWriter::SubmitBuffer() {
  // Called only when the buffer is full or just padded, so the write is whole pages.
  BV_ASSERT(buf_start_ % kPageSize == 0 && used_ % kPageSize == 0);
  const size_t n = used_;
  if (n == 0) return Status::Ok();
  io::Buffer full = buf_;
  buf_ = io::Buffer{};  // the file owns it now, even if the submission fails
  BV_RETURN_IF_ERROR(file_->SubmitWrite(buf_start_, full, n));
  BV_ASSIGN_OR_RETURN(buf_, env_->AcquireBuffer());
  buf_start_ += n;
  used_ = 0;
  return Status::Ok();
}

Status SegmentWriter::Put(std::string_view bytes) {
  if (buf_.data == nullptr) return Status::IOError("segment writer failed earlier");
  while (!bytes.empty()) {
    const size_t n = std::min(bytes.size(), buf_.size - used_);
    std::memcpy(buf_.data + used_, bytes.data(), n);
    used_ += n;
    bytes.remove_prefix(n);
    if (used_ == buf_.size) BV_RETURN_IF_ERROR(SubmitBuffer());
  }
  return Status::Ok();
}

Status SegmentWriter::Pad() {
  const uint64_t off = offset();
  if (off % kPageSize == 0) return Status::Ok();
  size_t gap = kPageSize - off % kPageSize;
  if (gap < kBlockHeaderSize) gap += kPageSize;
  format::BlockHeader h;
  h.type = format::BlockType::kPadding;
  h.raw_len = static_cast<uint32_t>(gap - kBlockHeaderSize);
  BV_RETURN_IF_ERROR(Put(format::EncodeBlock(h, std::string(gap - kBlockHeaderSize, '\0'))));
  blocks_++;
  BV_ASSERT(offset() % kPageSize == 0);
  return Status::Ok();
}

Status SegmentWriter::Sync() {
  BV_RETURN_IF_ERROR(Pad());
  BV_RETURN_IF_ERROR(SubmitBuffer());
  BV_ASSERT(offset() % kPageSize == 0 && used_ == 0);  // a sync point ends on a page boundary (§5)
  BV_RETURN_IF_ERROR(file_->DataSync());
  // A segment removed from under the writer takes what was synced to it along when it closes:
  // nothing written to it may be reported durable.
  BV_ASSIGN_OR_RETURN(bool linked, file_->Linked());
  if (!linked) return Status::Corruption(file_->path() + " was removed while it was being written");
  return Status::Ok();
}

Status SegmentWriter::Rotate() {
  format::SealRecord seal{number_, offset(), blocks_};
  format::BlockHeader h;
  h.type = format::BlockType::kSeal;
  h.raw_len = format::kSealPayloadSize;
  BV_RETURN_IF_ERROR(Put(format::EncodeBlock(h, format::EncodeSeal(seal))));
  blocks_++;
  BV_RETURN_IF_ERROR(Sync());
  sealed_.push_back({number_, SegmentState{true, offset(), blocks_}});
  file_.reset();
  return Create(number_ + 1);
}

Status SegmentWriter::Seal() {
  if (blocks_ == 0) return Status::Ok();
  return Rotate();
}

Result<Location> SegmentWriter::Append(std::string_view block) {
  BV_ASSERT(block.size() >= kBlockHeaderSize);
  // Asserted in pairs: what goes to disk is what a reader will accept.
  BV_ASSERT(format::DecodeBlockHeader(block.substr(0, kBlockHeaderSize)).ok());
  BV_ASSERT(format::DecodeFixed32(block.data() + 8) == block.size() - kBlockHeaderSize);
  // Room is kept for the seal block and its padding at the end of every segment.
  const uint64_t reserve = 2 * kPageSize;
  if (blocks_ > 0 && offset() + block.size() + reserve > params_.segment_size) {
    BV_RETURN_IF_ERROR(Rotate());
  }
  Location loc;
  loc.segment = number_;
  loc.offset = offset();
  loc.stored_len = static_cast<uint32_t>(block.size() - kBlockHeaderSize);
  loc.raw_len = format::DecodeFixed32(block.data() + 12);
  BV_RETURN_IF_ERROR(Put(block));
  blocks_++;
  BV_ASSERT(offset() == loc.offset + loc.total_size());
  return loc;
}

void SegmentWriter::RecordStates(IndexBatch* batch) {
  for (const Sealed& s : sealed_) batch->PutSegment(s.number, s.state);
  sealed_.clear();
  batch->PutSegment(number_, SegmentState{false, offset(), blocks_});
}

}  // namespace bv::engine
