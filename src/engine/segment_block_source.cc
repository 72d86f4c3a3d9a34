#include "engine/segment_block_source.h"

#include <algorithm>

#include "engine/chunk_id.h"
#include "engine/stored_blocks.h"

namespace bv::engine {

namespace {

// Blocks this close after the last one in the same segment are read in the same request, gap
// and all: one larger read beats two small ones.
constexpr uint64_t kReadGapMax = 64 << 10;

uint64_t AlignDown(uint64_t x) { return x / io::kAlign * io::kAlign; }
uint64_t AlignUp(uint64_t x) { return (x + io::kAlign - 1) / io::kAlign * io::kAlign; }

}  // namespace

Status SegmentBlockSource::Gather(BlockPipeline* pipeline) {
  pipeline_ = pipeline;
  BV_RETURN_IF_ERROR(WalkRecipe(v_, &reader_, snap_, stream_, range_, [this](const ChunkRef& c) { return AddChunk(c); }));
  return Submit();
}

std::string SegmentBlockSource::Place(const BlockItem& item) const {
  return StreamPlace(snap_, stream_, item.stream_offset) + ": segment " + std::to_string(item.where.segment) +
         " offset " + std::to_string(item.where.offset);
}

// The chunk's block, as the index places it.
Result<BlockItem> SegmentBlockSource::Locate(const ChunkRef& c) const {
  BV_ASSIGN_OR_RETURN(Location loc, LocateChunk(v_, snap_, stream_, c));
  BlockItem item;
  item.stored_len = loc.stored_len;
  item.id = c.entry.chunk_id;
  item.length = c.entry.length;
  item.stream_offset = c.stream_offset;
  item.skip = c.skip;
  item.take = c.take;
  item.where = loc;
  return item;
}

// Places the chunk's block in the current batch; a full batch is submitted first.
Status SegmentBlockSource::AddChunk(const ChunkRef& c) {
  BV_ASSERT(c.take > 0 && c.skip + c.take <= c.entry.length);  // the recipe walk hands out parts of chunks
  BV_ASSIGN_OR_RETURN(BlockItem item, Locate(c));
  const uint64_t start = AlignDown(item.where.offset), end = AlignUp(item.where.offset + item.where.total_size());
  if (current_ && AddToCurrent(item, start, end)) return Status::Ok();
  BV_RETURN_IF_ERROR(Submit());
  current_ = pipeline_->NewBatch(end - start);
  const bool added = AddToCurrent(item, start, end);
  BV_ASSERT(added);  // a new batch takes any block: its buffer is made to fit
  return Status::Ok();
}

// Inside or just after the batch's last extent when it can, else in an extent of its own; false
// when the batch has no room for it.
bool SegmentBlockSource::AddToCurrent(BlockItem item, uint64_t start, uint64_t end) {
  BlockBatch* b = current_.get();
  if (!pipeline_->TakesOutput(*b, item)) return false;
  Extent* last = extents_.empty() ? nullptr : &extents_.back();
  const uint64_t block_end = item.where.offset + item.where.total_size();
  if (last != nullptr && last->segment == item.where.segment && start >= last->start &&
      start <= last->end + kReadGapMax && last->at + (std::max(end, last->end) - last->start) <= b->capacity()) {
    last->end = std::max(last->end, end);
    last->needed_end = std::max(last->needed_end, block_end);
  } else if (b->used + (end - start) <= b->capacity()) {
    extents_.push_back(Extent{item.where.segment, start, end, block_end, b->used});
    last = &extents_.back();
  } else {
    return false;
  }
  b->used = last->at + (last->end - last->start);
  item.at = last->at + (item.where.offset - last->start);
  pipeline_->Add(b, item);
  return true;
}

// Waits for room in the window, reads the batch and queues its decode.
Status SegmentBlockSource::Submit() {
  if (!current_) return Status::Ok();
  Status s = pipeline_->Submit(std::move(current_), [this](BlockBatch* b) { return Read(b); });
  current_ = nullptr;
  extents_.clear();
  return s;
}

// The batch's reads, submitted together.
Status SegmentBlockSource::Read(BlockBatch* b) {
  std::vector<io::ReadRequest> reqs;
  std::vector<std::shared_ptr<io::File>> files;  // open until the reads are done
  for (const Extent& e : extents_) {
    BV_ASSIGN_OR_RETURN(std::shared_ptr<io::File> f, SegmentFile(e.segment));
    reqs.push_back(io::ReadRequest{f.get(), e.start, b->data() + e.at, e.end - e.start, b->buffer_index()});
    files.push_back(std::move(f));
  }
  (void)v_->env()->ReadBatch(reqs);
  for (size_t i = 0; i < reqs.size(); i++) {
    const Extent& e = extents_[i];
    if (!reqs[i].status.ok()) return Status::IOError(reqs[i].status.message());
    if (e.start + reqs[i].got < e.needed_end) {
      for (const BlockItem& it : b->items) {
        if (it.where.segment == e.segment && it.where.offset + it.where.total_size() > e.start + reqs[i].got) {
          NoteDamaged(it);
        }
      }
      return Status::Corruption("segment " + std::to_string(e.segment) + ": blocks up to offset " +
                                std::to_string(e.needed_end) + " run past the end of the file at " +
                                std::to_string(e.start + reqs[i].got));
    }
  }
  return Status::Ok();
}

// The one place a segment's file is obtained for a read.
Result<std::shared_ptr<io::File>> SegmentBlockSource::SegmentFile(uint64_t segment) { return reader_.File(segment); }

void SegmentBlockSource::NoteDamaged(const BlockItem& item) const {
  BV_ASSERT(item.id.has_value());  // every block of this source names its chunk
  std::lock_guard lock(damaged_mu_);
  damaged_.emplace_back(*item.id, item.where);
}

}  // namespace bv::engine
