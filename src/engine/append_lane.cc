#include "engine/append_lane.h"

namespace bv::engine {

Result<AppendLane::Guard> AppendLane::Lock(std::optional<uint64_t> generation) {
  std::unique_lock lock(mu_);
  if (generation && *generation != generation_) {
    return Status::IOError("the volume's writer failed under another put, so this one was abandoned");
  }
  BV_ASSIGN_OR_RETURN(SegmentWriter * w, Writer());
  return Guard(this, std::move(lock), w);
}

uint64_t AppendLane::generation() {
  std::lock_guard lock(mu_);
  return generation_;
}

bool AppendLane::failed() {
  std::lock_guard lock(mu_);
  return !writer_error_.ok();
}

Result<SegmentWriter*> AppendLane::Writer() {
  BV_RETURN_IF_ERROR(target_->Writable());
  if (!writer_error_.ok()) {
    if (Status s = target_->RecoverTail(); !s.ok()) {
      return Status::IOError("the volume stopped accepting writes after an error (" + writer_error_.message() +
                             ") and its tail could not be recovered: " + s.message());
    }
    writer_error_ = Status::Ok();
  }
  if (!writer_) {
    BV_ASSIGN_OR_RETURN(writer_, target_->OpenWriter());
  }
  return writer_.get();
}

void AppendLane::Poison(const Status& why) {
  writer_error_ = why.ok() ? Status::IOError("writer dropped") : why;
  writer_.reset();
  // The entries of blocks past indexed_through go with the tail that recovery cuts.
  pending_ = index_->NewBatch();
  unindexed_bytes_ = 0;
  generation_++;
}

void AppendLane::BeginPut() { puts_active_++; }

void AppendLane::EndPut() { puts_active_--; }

void AppendLane::AbandonPut(uint64_t generation) {
  std::lock_guard lock(mu_);
  // Alone, the failed put's blocks are all that lies past indexed_through: cutting them loses
  // nothing anyone was told of and gives their space back at once (a full disk needs it). That
  // holds whether the put's own failure dropped the writer (a write that failed, ENOSPC) or not.
  if (puts_active_ != 1 || !target_->Writable().ok()) return;
  if (writer_ && generation == generation_) {
    Poison(Status::IOError("a put was abandoned"));
  } else if (writer_error_.ok()) {
    return;  // nothing of this generation is left to cut
  }
  (void)Writer();  // cuts the tail now; on failure the next put tries again
}

Result<Location> AppendLane::Guard::Append(std::string_view block) {
  BV_ASSIGN_OR_RETURN(SegmentWriter * w, Writer());
  auto loc = w->Append(block);
  if (!loc.ok()) return Failed(loc.status());
  lane_->unindexed_bytes_ += loc->total_size();
  return loc;
}

Status AppendLane::Guard::SyncPoint(bool durable) {
  BV_ASSIGN_OR_RETURN(SegmentWriter * w, Writer());
  // [CRASH-1] The segment is durable before the index says so, never the other way round.
  if (Status s = w->Sync(); !s.ok()) return Failed(s);
  w->RecordStates(&lane_->pending_);
  if (Status s = lane_->index_->Write(&lane_->pending_, durable); !s.ok()) return Failed(s);
  lane_->pending_ = lane_->index_->NewBatch();
  lane_->unindexed_bytes_ = 0;
  return Status::Ok();
}

Result<bool> AppendLane::Guard::Seal(uint64_t segment) {
  BV_ASSIGN_OR_RETURN(SegmentWriter * w, Writer());
  if (w->number() != segment) return false;
  if (Status s = w->Seal(); !s.ok()) return Failed(s);
  BV_RETURN_IF_ERROR(SyncPoint(/*durable=*/true));
  return true;
}

Result<SegmentWriter*> AppendLane::Guard::Writer() const {
  // Under the lock, with the lane's own writer: nobody else changes it while a guard holds it.
  BV_ASSERT(lock_.owns_lock() && lock_.mutex() == &lane_->mu_);
  if (writer_ == nullptr) return lane_->writer_error_;
  BV_ASSERT(writer_ == lane_->writer_.get() && generation_ == lane_->generation_);
  return writer_;
}

Status AppendLane::Guard::Failed(const Status& why) {
  lane_->Poison(why);
  writer_ = nullptr;
  return lane_->writer_error_;
}

}  // namespace bv::engine
