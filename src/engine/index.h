// The RocksDB index: a cache of facts that are all in the segments too (so `fsck
// --rebuild-index` can rebuild it). Column families and key layouts: docs/format-spec.md §7.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "format/block_format.h"
#include "format/index_format.h"
#include "format/session_format.h"
#include "format/snapshot_format.h"

namespace bv::engine {

// Where a block is, and what the index knows of a segment: their bytes are in format/index_format.h.
using Location = format::Location;
using SegmentState = format::SegmentState;

struct SnapshotEntry {
  format::SnapshotRecord record;
  Location commit;  // where its commit block is
};

class IndexBatch {
 public:
  void PutChunk(const format::Id& id, const Location& loc);
  // stream_offset: where the piece's first chunk starts in the stream, so a range restore can
  // skip the pieces before its range without reading them.
  void PutRecipe(uint64_t snapshot, uint16_t stream, uint32_t piece, uint64_t stream_offset, const Location& loc);
  void PutSnapshot(const SnapshotEntry& e);
  // Forgets the snapshot and its recipes, and leaves a tombstone: where its commit block and its
  // deletion block are, so that compaction knows whether the deletion is still needed and where
  // it is (format-spec [CMP-4]).
  void DeleteSnapshot(const SnapshotEntry& e, const Location& deletion);
  void PutTombstone(uint64_t id, const format::Tombstone& t);
  // The commit block the tombstone names is gone.
  void DeleteTombstone(uint64_t id);
  void DeleteRecipe(uint64_t snapshot, uint16_t stream, uint32_t piece);
  void DeleteQuarantined(const format::Id& id);
  // A segment removed by compaction: the `locations` entries of its blocks (its state stays,
  // retired, so fsck knows the number's absence is compaction's doing).
  void ForgetSegmentBlocks(uint64_t number);
  void PutSegment(uint64_t number, const SegmentState& s);
  // The chunk's `chunks` entry only: the `locations` entry goes with its segment's
  // ForgetSegmentBlocks (a `locations` entry is a hint that readers check against `chunks`).
  void DeleteChunk(const format::Id& id);
  // The chunk's block at `damaged` is damaged: `chunks` forgets it (so nothing deduplicates
  // against it), `quarantine` says where the damaged copy is, `locations` still says what the
  // block held.
  void QuarantineChunk(const format::Id& id, const Location& damaged);
  void PutSession(const format::SessionRecord& r);
  void DeleteSession(uint64_t id);
  // Recipe pieces of `snapshot` from (stream, piece) on: what a resumed session writes again.
  void DeleteRecipesFrom(uint64_t snapshot, uint16_t stream, uint32_t piece);
  size_t count() const { return static_cast<size_t>(batch_.Count()); }

 private:
  friend class Index;
  explicit IndexBatch(class Index* index) : index_(index) {}
  class Index* index_;
  rocksdb::WriteBatch batch_;
};

class Index {
 public:
  // read_only: nothing is written (the log is replayed into memory, not flushed to new files),
  // and every write fails.
  static Result<std::unique_ptr<Index>> Open(const std::string& dir, bool create_if_missing, bool read_only = false);
  ~Index();

  IndexBatch NewBatch() { return IndexBatch(this); }
  // sync=true makes the batch durable before returning.
  Status Write(IndexBatch* b, bool sync);

  Result<std::optional<Location>> GetChunk(const format::Id& id);
  // GetChunk of many ids in one call (RocksDB's MultiGet: shared block reads, ids in any order);
  // the answers in the order of `ids`.
  Result<std::vector<std::optional<Location>>> GetChunks(const std::vector<format::Id>& ids);
  // Where the chunk's damaged copy is, if it was quarantined.
  Result<std::optional<Location>> GetQuarantined(const format::Id& id);
  Result<std::optional<SnapshotEntry>> GetSnapshot(uint64_t id);
  // Where the commit and deletion blocks of a deleted snapshot are, while compaction has not
  // removed the commit.
  Result<std::optional<format::Tombstone>> GetTombstone(uint64_t id);
  // False when the index predates tombstones: then a snapshot deleted before has none.
  Result<bool> TombstonesComplete();
  Status ForEachTombstone(const std::function<Status(uint64_t id, const format::Tombstone& t)>& fn);
  Result<std::optional<format::RecipeValue>> GetRecipe(uint64_t snapshot, uint16_t stream, uint32_t piece);
  // RocksDB's estimate of the number of `chunks` entries (0 when it has none).
  uint64_t EstimatedChunks();
  Status ForEachQuarantined(const std::function<Status(const format::Id&, const Location&)>& fn);
  // Snapshots whose id starts with the hex prefix (for short ids).
  Result<std::vector<uint64_t>> FindSnapshotsByPrefix(uint64_t value, int prefix_bits);
  // The newest snapshot of `source` at or before `time_us`.
  Result<std::optional<uint64_t>> FindAsOf(const std::string& source, int64_t time_us);
  // Snapshots of one source (or all, when empty), newest first within a source.
  Status ForEachSnapshot(const std::string& source, const std::function<bool(const SnapshotEntry&)>& fn);
  // Recipe pieces of one stream, in order, with where each starts in the stream.
  Status ForEachRecipe(uint64_t snapshot, uint16_t stream,
                       const std::function<Status(uint32_t piece, uint64_t stream_offset, const Location&)>& fn);
  // Recipe pieces of every snapshot (uncommitted ones included).
  Status ForEachRecipeKey(const std::function<Status(uint64_t snapshot, uint16_t stream, uint32_t piece,
                                                     const Location&)>& fn);
  Result<std::optional<format::SessionRecord>> GetSession(uint64_t id);
  Status ForEachSession(const std::function<Status(const format::SessionRecord&)>& fn);
  Result<std::optional<SegmentState>> GetSegment(uint64_t number);
  Status ForEachSegment(const std::function<Status(uint64_t, const SegmentState&)>& fn);
  // Chunk ids whose blocks start in [from, to) of a segment.
  Status ForEachChunkAt(uint64_t segment, uint64_t from, uint64_t to,
                        const std::function<Status(uint64_t offset, const format::Id&)>& fn);
  Status ForEachChunk(const std::function<Status(const format::Id&, const Location&)>& fn);

 private:
  friend class IndexBatch;
  Index() = default;
  // Every chunk id and location of column family `cf` (chunks, quarantine), in id order.
  Status ForEachIdLocation(size_t cf, const char* what,
                           const std::function<Status(const format::Id&, const Location&)>& fn);
  // The location stored under a chunk id in column family `cf`.
  Result<std::optional<Location>> GetLocation(size_t cf, const format::Id& id, const char* what);
  // A snapshot record as `ro` sees it (ro.snapshot pins a view that a concurrent delete cannot change).
  Result<std::optional<SnapshotEntry>> ReadSnapshot(const rocksdb::ReadOptions& ro, uint64_t id);
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> cf_;
};

}  // namespace bv::engine
