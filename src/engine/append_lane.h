// The one way into a volume's writer. Several puts (and deletions) append side by side, a batch
// of blocks at a time: each takes the lane's lock, and through the Guard it gets appends, adds
// the index entries of what it appended and reaches sync points. The lane holds what they share:
// the writer, the index entries of every block appended since the last sync point, their byte
// count, and the writer's generation, which moves on each time a failed writer is dropped.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "engine/index.h"
#include "engine/segment_writer.h"

namespace bv::engine {

// What a lane needs from its volume: whether it may be written, a writer at the end of its last
// segment, and the recovery of the tail a failed writer left.
class AppendTarget {
 public:
  virtual ~AppendTarget() = default;
  // Fails for a volume opened to read, or one whose torn tail was left in place.
  virtual Status Writable() const = 0;
  // Cuts what lies past indexed_through (nothing there is referenced once every put of the
  // failed writer has failed) and brings the index up to date with the segments.
  virtual Status RecoverTail() = 0;
  virtual Result<std::unique_ptr<SegmentWriter>> OpenWriter() = 0;
};

class AppendLane {
 public:
  class Guard;

  AppendLane(Index* index, AppendTarget* target) : index_(index), target_(target), pending_(index->NewBatch()) {}
  AppendLane(const AppendLane&) = delete;
  AppendLane& operator=(const AppendLane&) = delete;

  // Takes the lock and the writer: opened on first use, and after a failed writer only once the
  // tail it left is recovered. With a generation, fails if the writer was dropped since then:
  // the caller's earlier appends may lie in the tail that recovery cuts.
  Result<Guard> Lock(std::optional<uint64_t> generation = std::nullopt);
  // Takes the lock for a moment: for tests, which look from outside.
  uint64_t generation();
  // Whether the last writer was dropped and its tail is not recovered yet. A volume so left is
  // not closed cleanly: its next open scans the tail.
  bool failed();

  // Puts in flight, counted so that a failed put can take back what it wrote when it was alone.
  void BeginPut();
  void EndPut();
  // A put of this generation failed and committed nothing. When no other put is in flight, its
  // unindexed blocks are cut at once (giving their space and quota back); otherwise they stay,
  // unreferenced, for compaction.
  void AbandonPut(uint64_t generation);

 private:
  Result<SegmentWriter*> Writer();
  // Drops a writer that failed. Every put that appended through it fails too: its blocks may lie
  // in the tail that recovery cuts. The generation tells them.
  void Poison(const Status& why);

  Index* const index_;
  AppendTarget* const target_;
  std::mutex mu_;
  // Under mu_.
  std::unique_ptr<SegmentWriter> writer_;
  // Index entries of the blocks appended since the last sync point, from every put: whoever
  // reaches a sync point writes all of them with the segment states, so that indexed_through
  // never passes a block whose entry is not in the index.
  IndexBatch pending_;
  uint64_t unindexed_bytes_ = 0;  // appended since the last sync point
  Status writer_error_;  // why the last writer was dropped; cleared once the tail is recovered
  uint64_t generation_ = 0;
  std::atomic<int> puts_active_{0};  // counted without the lock, read under it
};

// The lane, locked, with the writer of one generation. A failed append or sync point drops the
// writer: whatever it wrote since its last sync is suspect, so the holder's put fails, and so
// does every other put that appended through it.
class AppendLane::Guard {
 public:
  Guard(Guard&&) = default;
  Guard& operator=(Guard&&) = delete;

  uint64_t generation() const { return generation_; }
  // Appends one whole block; its bytes count as unindexed until the next sync point.
  Result<Location> Append(std::string_view block);
  // Where the entries of what was appended go; written at the next sync point, whoever reaches it.
  IndexBatch* pending() { return &lane_->pending_; }
  uint64_t unindexed_bytes() const { return lane_->unindexed_bytes_; }
  // Pads and fdatasyncs the segment, then writes the pending entries and the segment states to
  // the index (synced to disk when `durable`).
  Status SyncPoint(bool durable);
  // Seals `segment` if it is the one being written (the next append goes to a new one), and
  // reaches a durable sync point. Says whether it sealed it.
  Result<bool> Seal(uint64_t segment);

 private:
  friend class AppendLane;
  Guard(AppendLane* lane, std::unique_lock<std::mutex> lock, SegmentWriter* w)
      : lane_(lane), lock_(std::move(lock)), writer_(w), generation_(lane->generation_) {}
  // The writer, or why there is none: this guard's own failure dropped it.
  Result<SegmentWriter*> Writer() const;
  Status Failed(const Status& why);

  AppendLane* lane_;
  std::unique_lock<std::mutex> lock_;
  SegmentWriter* writer_;  // null once a failure under this guard dropped it
  uint64_t generation_;
};

}  // namespace bv::engine
