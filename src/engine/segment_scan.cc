#include "engine/segment_scan.h"

namespace bv::engine {

Result<std::unique_ptr<SegmentScan>> SegmentScan::Open(SegmentFiles* files, uint64_t segment, bool writable) {
  std::shared_ptr<io::File> file;
  if (writable) {
    BV_ASSIGN_OR_RETURN(file, files->env()->Open(files->Path(segment), io::OpenMode::kReadWrite));
  } else {
    BV_ASSIGN_OR_RETURN(file, files->Open(segment));
  }
  std::unique_ptr<SegmentScan> scan(new SegmentScan());
  BV_RETURN_IF_ERROR(scan->window_.Attach(std::move(file)));
  BV_RETURN_IF_ERROR(scan->ReadHeader());
  return scan;
}

Result<std::unique_ptr<SegmentScan>> SegmentScan::OpenHeaderless(io::Env* env, const std::string& path) {
  BV_ASSIGN_OR_RETURN(std::shared_ptr<io::File> file, env->Open(path, io::OpenMode::kRead));
  std::unique_ptr<SegmentScan> scan(new SegmentScan());
  BV_RETURN_IF_ERROR(scan->window_.Attach(std::move(file)));
  scan->header_problem_ = Status::NotFound(path + ": a file of blocks without a segment header");
  return scan;
}

Status SegmentScan::ReadHeader() {
  std::string head;
  BV_RETURN_IF_ERROR(window_.Read(0, format::kSegmentHeaderSize, &head));
  auto h = format::DecodeSegmentHeader(head);
  if (h.ok()) {
    header_ = *h;
  } else {
    header_problem_ = h.status();
  }
  return Status::Ok();
}

Result<ScanStopInfo> SegmentScan::Blocks(uint64_t from, bool read_payloads, const BlockFn& on_block,
                                         const StopFn& on_stop) {
  format::SegmentScanner scanner(&window_, from, read_payloads);
  for (;;) {
    BV_ASSIGN_OR_RETURN(auto block, scanner.Next());
    if (block) {
      BV_RETURN_IF_ERROR(on_block(*block));
      continue;
    }
    ScanStopInfo info{scanner.stop(), scanner.stop_offset(), 0, scanner.problem(), std::nullopt};
    sealed_ = scanner.sealed();
    if (info.stop == format::ScanStop::kEnd) return info;
    if (info.stop == format::ScanStop::kCorrupt) info.resume = scanner.resume_offset();
    std::string hb;
    BV_RETURN_IF_ERROR(window_.Read(info.offset, format::kBlockHeaderSize, &hb));
    if (auto h = format::DecodeBlockHeader(hb); h.ok()) info.header = *h;
    BV_ASSIGN_OR_RETURN(bool go_on, on_stop(info));
    if (!go_on || info.stop != format::ScanStop::kCorrupt) return info;
    scanner.Resume();
  }
}

}  // namespace bv::engine
