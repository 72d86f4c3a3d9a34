#include "format/segment_scanner.h"

#include <cstring>

#include "format/coding.h"
#include "format/segment_format.h"

namespace bv::format {

Status StringSource::Read(uint64_t off, size_t n, std::string* out) {
  if (off >= bytes_.size()) {
    out->clear();
    return Status::Ok();
  }
  out->assign(bytes_.substr(off, n));
  return Status::Ok();
}

SegmentScanner::SegmentScanner(ByteSource* src, uint64_t start, bool read_payloads)
    : src_(src), offset_(start), read_payloads_(read_payloads) {}

Result<std::optional<uint64_t>> SegmentScanner::FindValidHeader(uint64_t from) {
  constexpr size_t kWindow = 1 << 20;
  std::string buf;
  const char magic[4] = {'B', 'V', 'B', 'K'};
  while (from + kBlockHeaderSize <= src_->Size()) {
    BV_RETURN_IF_ERROR(src_->Read(from, kWindow + kBlockHeaderSize, &buf));
    for (size_t i = 0; i + kBlockHeaderSize <= buf.size() && i < kWindow; i++) {
      if (std::memcmp(buf.data() + i, magic, 4) != 0) continue;
      if (DecodeBlockHeader(std::string_view(buf).substr(i, kBlockHeaderSize)).ok()) {
        return std::optional<uint64_t>(from + i);
      }
    }
    from += kWindow;
  }
  return std::optional<uint64_t>();
}

Status SegmentScanner::Fail(const Status& why) {
  problem_ = Status::Corruption("offset " + std::to_string(offset_) + ": " + why.message());
  // A valid header past the bad block means the bad block is damage, not a torn tail. Search
  // from the byte after the bad block's start: its own header may be the valid one.
  auto next = FindValidHeader(offset_ + 1);
  if (!next.ok()) return next.status();
  if (next->has_value()) {
    stop_ = ScanStop::kCorrupt;
    resume_ = **next;
  } else {
    stop_ = ScanStop::kTorn;
  }
  return Status::Ok();
}

void SegmentScanner::Resume() {
  BV_ASSERT(stop_ == ScanStop::kCorrupt);
  offset_ = resume_;
  stop_ = ScanStop::kNone;
  problem_ = Status::Ok();
}

Result<std::optional<ScannedBlock>> SegmentScanner::Next() {
  if (stop_ != ScanStop::kNone) return std::optional<ScannedBlock>();
  const uint64_t size = src_->Size();
  if (offset_ == size) {
    stop_ = ScanStop::kEnd;
    return std::optional<ScannedBlock>();
  }
  if (sealed_ && padding_after_seal_) {
    BV_RETURN_IF_ERROR(Fail(Status::Corruption("bytes after the seal")));
    return std::optional<ScannedBlock>();
  }
  std::string head;
  BV_RETURN_IF_ERROR(src_->Read(offset_, kBlockHeaderSize, &head));
  auto h = DecodeBlockHeader(head);
  if (!h.ok()) {
    BV_RETURN_IF_ERROR(Fail(h.status()));
    return std::optional<ScannedBlock>();
  }
  if (offset_ + h->total_size() > size) {
    BV_RETURN_IF_ERROR(Fail(Status::Corruption(
        std::string(BlockTypeName(h->type)) + " block of " + std::to_string(h->total_size()) +
        " bytes runs past the end of the segment at " + std::to_string(size))));
    return std::optional<ScannedBlock>();
  }
  // The payload is always read: a block is valid only if its body checksum holds.
  ScannedBlock b;
  b.offset = offset_;
  b.header = *h;
  BV_RETURN_IF_ERROR(src_->Read(offset_ + kBlockHeaderSize, h->stored_len, &b.payload));
  if (Status s = VerifyBlockBody(*h, b.payload); !s.ok()) {
    BV_RETURN_IF_ERROR(Fail(s));
    return std::optional<ScannedBlock>();
  }
  if (h->type == BlockType::kSeal) {
    auto seal = DecodeSeal(b.payload);
    if (!seal.ok() || seal->seal_offset != offset_) {
      BV_RETURN_IF_ERROR(Fail(seal.ok() ? Status::Corruption("seal_offset does not match the seal's place")
                                        : seal.status()));
      return std::optional<ScannedBlock>();
    }
    sealed_ = true;
  } else if (sealed_) {
    if (h->type != BlockType::kPadding) {
      BV_RETURN_IF_ERROR(Fail(Status::Corruption("a block other than padding after the seal")));
      return std::optional<ScannedBlock>();
    }
    padding_after_seal_ = true;  // at most one padding block after the seal; then the end
  }
  if (!read_payloads_) b.payload.clear();
  offset_ += h->total_size();
  blocks_++;
  return std::optional<ScannedBlock>(std::move(b));
}

}  // namespace bv::format
