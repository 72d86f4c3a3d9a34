#include "engine/segment_reader.h"

namespace bv::engine {

Result<std::shared_ptr<io::File>> SegmentReader::File(uint64_t segment, SegmentAccess access) {
  auto f = files_->Open(segment, access);
  if (!f.ok() && f.status().IsNotFound()) {
    return Status::Corruption(SegmentFiles::Name(segment) + " is missing: " + f.status().message());
  }
  return f;
}

Status SegmentReader::ReadBlock(const Location& loc, format::BlockHeader* h, std::string_view* payload) {
  const std::string where = "segment " + std::to_string(loc.segment) + " offset " + std::to_string(loc.offset);
  if (window_segment_ != loc.segment) {
    BV_ASSIGN_OR_RETURN(std::shared_ptr<io::File> f, File(loc.segment));
    window_.Attach(std::move(f), 0);  // View reads what is there; the size is not needed
    window_segment_ = loc.segment;
  }
  BV_ASSIGN_OR_RETURN(std::string_view bytes, window_.View(loc.offset, loc.total_size()));
  if (bytes.size() < loc.total_size()) {
    return Status::Corruption(where + ": block of " + std::to_string(loc.total_size()) +
                              " bytes runs past the end of the file at " + std::to_string(loc.offset + bytes.size()));
  }
  auto hdr = format::DecodeBlockHeader(bytes.substr(0, format::kBlockHeaderSize));
  if (!hdr.ok()) return Status::Corruption(where + ": " + hdr.status().message());
  if (hdr->stored_len != loc.stored_len) {
    return Status::Corruption(where + ": block is " + std::to_string(hdr->stored_len) +
                              " bytes, the index says " + std::to_string(loc.stored_len));
  }
  *payload = bytes.substr(format::kBlockHeaderSize);
  if (Status s = format::VerifyBlockBody(*hdr, *payload); !s.ok()) {
    return Status::Corruption(where + ": " + s.message());
  }
  *h = *hdr;
  return Status::Ok();
}

}  // namespace bv::engine
