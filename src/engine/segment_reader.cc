#include "engine/segment_reader.h"

#include <cstdlib>

#include "format/segment_format.h"

namespace bv::engine {

SegmentReader::~SegmentReader() { std::free(window_); }

Result<io::File*> SegmentReader::File(uint64_t segment) {
  for (auto it = files_.begin(); it != files_.end(); ++it) {
    if (it->first == segment) {
      files_.splice(files_.begin(), files_, it);
      return files_.front().second.get();
    }
  }
  auto f = env_->Open(dir_ + "/" + format::SegmentFileName(segment), io::OpenMode::kRead);
  if (!f.ok() && f.status().IsNotFound()) {
    // The index places blocks in it: a segment that is gone is damage, not a passing I/O error.
    return Status::Corruption("segment " + format::SegmentFileName(segment) + " is missing: " + f.status().message());
  }
  if (!f.ok()) return f.status();
  files_.emplace_front(segment, std::move(f).value());
  if (files_.size() > kOpenFilesMax) files_.pop_back();
  return files_.front().second.get();
}

Status SegmentReader::Fill(uint64_t segment, uint64_t off, size_t n) {
  if (window_len_ > 0 && segment == window_segment_ && off >= window_start_ &&
      off + n <= window_start_ + window_len_) {
    return Status::Ok();
  }
  BV_ASSIGN_OR_RETURN(io::File * f, File(segment));
  const uint64_t start = off / io::kAlign * io::kAlign;
  const size_t want = std::max(window_size_, (off + n - start + io::kAlign - 1) / io::kAlign * io::kAlign);
  if (want > window_cap_) {
    std::free(window_);
    window_ = io::AllocAligned(want);
    window_cap_ = want;
  }
  window_len_ = 0;
  BV_ASSIGN_OR_RETURN(size_t got, f->ReadAt(start, window_, want));
  window_segment_ = segment;
  window_start_ = start;
  window_len_ = got;
  if (off + n > start + got) {
    return Status::Corruption("segment " + std::to_string(segment) + ": block at offset " + std::to_string(off) +
                              " of " + std::to_string(n) + " bytes runs past the end of the file at " +
                              std::to_string(start + got));
  }
  return Status::Ok();
}

Status SegmentReader::ReadBlock(const Location& loc, format::BlockHeader* h, std::string_view* payload) {
  const std::string where = "segment " + std::to_string(loc.segment) + " offset " + std::to_string(loc.offset);
  BV_RETURN_IF_ERROR(Fill(loc.segment, loc.offset, loc.total_size()));
  std::string_view bytes(reinterpret_cast<const char*>(window_) + (loc.offset - window_start_), loc.total_size());
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

Status SegmentReader::ReadRaw(uint64_t segment, uint64_t off, size_t n, std::string* out) {
  BV_ASSIGN_OR_RETURN(io::File * f, File(segment));
  out->resize(n);
  BV_ASSIGN_OR_RETURN(size_t got, f->ReadAt(off, out->data(), n));
  out->resize(got);
  return Status::Ok();
}

}  // namespace bv::engine
