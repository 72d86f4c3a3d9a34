// A volume: DIR/VOLUME (parameters), DIR/segments/ (the truth), DIR/index/ (RocksDB, a cache of
// the segments), DIR/LOCK (one process at a time), DIR/CLEAN (present only after a clean close).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/append_lane.h"
#include "engine/block_codec.h"
#include "engine/chunker.h"
#include "engine/epoch_gate.h"
#include "engine/index.h"
#include "engine/keys.h"
#include "engine/recovery.h"
#include "engine/segment_files.h"
#include "engine/segment_reader.h"
#include "engine/segment_size.h"
#include "engine/segment_writer.h"
#include "format/segment_format.h"
#include "io/env.h"

namespace bv::engine {

struct InitOptions {
  bool encrypt = true;
  std::string key_file;  // where to create the master key; empty: $BV_KEY_FILE, then DefaultKeyPath
  std::optional<Key> master_key;  // use this key (a server's tenant key) and write no key file
  // HMAC-SHA-256 on the CPU's SHA extensions measured 1.6 GB/s against keyed BLAKE2b's 0.98 GB/s
  // (docs/performance.md), so new volumes use it.
  format::IdAlgo id_algo = format::IdAlgo::kHmacSha256;
  uint32_t chunk_min = ChunkSizes{}.min;  // ChunkSizes::ForAverage(chunk_avg)
  uint32_t chunk_avg = ChunkSizes{}.avg;
  uint32_t chunk_max = ChunkSizes{}.max;
  uint64_t segment_size = kDefaultSegmentSize;
  std::shared_ptr<io::Env> env;  // when set, used for every file (tests inject faults)
};

struct OpenOptions {
  std::string key_file;  // empty: $BV_KEY_FILE, then DefaultKeyPath
  std::optional<Key> master_key;  // when set, used instead of any key file
  bool need_key = true;  // false for commands that read only plaintext (ls, inspect, fsck)
  io::Backend backend = io::Backend::kUring;
  std::shared_ptr<io::Env> env;  // when set, used instead of a new Env of `backend` (tests inject faults)
  int zstd_level = kDefaultZstdLevel;
  bool rebuild_index = false;  // discard DIR/index and rebuild it from the segments
  RecoverMode recover;
  // For commands that only read: a cleanly closed volume is opened without writing anything (its
  // index read-only, its clean marker left in place), and writing to it fails. A volume that was
  // not closed cleanly is recovered as by any other open.
  bool read_only = false;
};

class Volume : private AppendTarget {
 public:
  // Creates DIR and its master key; *key_path says where the key went (empty if unencrypted).
  static Status Init(const std::string& dir, const InitOptions& opts, std::string* key_path);
  static Result<std::unique_ptr<Volume>> Open(const std::string& dir, const OpenOptions& opts);
  // When DIR/VOLUME does not decode, writes it again from the first segment header that does
  // (every segment header holds the same parameters), keeping the damaged file as VOLUME.damaged.
  // *what says what was done; empty when VOLUME was fine.
  static Status RepairVolumeFile(const std::string& dir, std::string* what, io::Env* env = io::SystemEnv());
  ~Volume();

  // Syncs, writes the clean-shutdown marker, releases the lock (a read-only volume only releases).
  Status Close();

  const std::string& dir() const { return dir_; }
  const format::VolumeParams& params() const { return params_; }
  bool has_keys() const { return keys_.has_value(); }
  const VolumeKeys& keys() const { return *keys_; }
  const BlockCodec& codec() const { return *codec_; }
  Index* index() { return index_.get(); }
  // The segment files, shared by every reader of the volume.
  SegmentFiles* segment_files() { return files_.get(); }
  // Bytes the volume's segments take on disk: what a quota limits. Sealed segments never change,
  // so the leading run of them is counted once and kept; each call lists the directory and
  // looks only at the segments after that run (the active one, mostly).
  Result<uint64_t> StoredBytes();
  SegmentReader* reader() { return reader_.get(); }
  io::Env* env() { return env_.get(); }
  const RecoveryReport& recovery() const { return recovery_; }
  // Where puts and deletions append, one batch of blocks at a time (null until the index is open).
  AppendLane* lane() { return lane_.get(); }
  // Held by a prune from its plan to its last removal (engine/prune.h): one prune at a time.
  std::mutex* prune_mutex() { return &prune_mu_; }
  // Held by a compaction from start to end (engine/compact.h): one at a time.
  std::mutex* compact_mutex() { return &compact_mu_; }
  // Every put is inside this gate while it runs (PutSession), every restore or verify of a
  // snapshot inside the other (engine/epoch_gate.h): compaction waits for the puts that began
  // before its fence and the reads that began before it retired a segment.
  EpochGate* puts_gate() { return &puts_gate_; }
  EpochGate* reads_gate() { return &reads_gate_; }
  // Segments being compacted: a put does not deduplicate against a chunk whose block lies in
  // one (it stores the chunk again), so nothing new comes to depend on them. Empty to lift.
  void Fence(const std::vector<uint64_t>& segments);
  bool Fenced(uint64_t segment);
  // Removes the files of segments the index marks retired (compaction moved all they held that
  // is needed out of them), then forgets their blocks; the retired state stays. One RETIRED
  // update, one directory sync and one index batch for all of them. Idempotent across crashes
  // (format-spec [CMP-5]).
  Status RemoveRetired(const std::vector<uint64_t>& segments);
  // Threads that remove segment files side by side.
  static constexpr size_t kRemoveThreadsMax = 4;
  // NoSpace when writing `bytes` more would leave less than `reserve` bytes free on the volume's
  // file system. Every put of the volume counts what it writes here, and the free space is looked
  // at anew after each kDiskReserveCheckBytes of them: puts side by side cannot together eat into
  // the reserve by more than that (other writers to the disk, by what they write meanwhile).
  Status KeepDiskReserve(uint64_t reserve, uint64_t bytes);


  // A chunk found damaged at `where` by a restore, verify or fsck --repair: dedup stops trusting
  // it (its `chunks` entry goes; the block keeps its `locations` entry, so fsck can still say
  // what the damaged range held), so the next put that carries the chunk stores it again and
  // every snapshot that references it reads the new copy. Nothing happens if the index already
  // points elsewhere, or if the volume was opened to read (read-only commands change nothing).
  // Says whether it recorded the quarantine.
  Result<bool> Quarantine(const format::Id& id, const Location& where);

  // One PutSession per session id at a time.
  bool ClaimSession(uint64_t id);
  void ReleaseSession(uint64_t id);

 private:
  Volume() = default;
  Status LoadKeys(const OpenOptions& opts);
  // The lane's writer, at the end of the last segment (or in a new one), and its recovery.
  Status Writable() const override;
  Status RecoverTail() override;
  Result<std::unique_ptr<SegmentWriter>> OpenWriter() override;
  Status CutUnindexedTail();
  // Removes the segments' files, up to kRemoveThreadsMax at a time; the first failure.
  Status RemoveFiles(const std::vector<uint64_t>& segments);
  // Whether the index records the last segment as far as the file goes, as a clean close leaves
  // it; if so, takes its state as the place to append.
  Result<bool> IndexCoversTail(const std::vector<uint64_t>& segments);
  // Segments the index knows whose files are gone: damage, and their chunks are quarantined
  // (when writing). Sets the lowest number a new segment may take.
  Status ReconcileSegments(const RecoverMode& mode);

  std::string dir_;
  std::unique_ptr<io::FileLock> lock_;
  format::VolumeParams params_;
  std::optional<VolumeKeys> keys_;
  std::unique_ptr<BlockCodec> codec_;
  std::shared_ptr<io::Env> env_;
  std::unique_ptr<Index> index_;
  std::unique_ptr<SegmentFiles> files_;
  std::unique_ptr<SegmentReader> reader_;
  std::unique_ptr<AppendLane> lane_;
  std::mutex stored_mu_;
  uint64_t sealed_run_end_ = 0;    // under stored_mu_: the last segment of the counted sealed run
  uint64_t sealed_run_bytes_ = 0;  // under stored_mu_: their bytes
  std::mutex sessions_mu_;
  std::mutex prune_mu_;
  std::mutex compact_mu_;
  EpochGate puts_gate_;
  EpochGate reads_gate_;
  std::mutex space_mu_;
  uint64_t free_seen_ = 0;      // under space_mu_: free bytes at the last look
  uint64_t written_since_ = 0;  // under space_mu_: what puts said they write since then
  bool space_seen_ = false;     // under space_mu_
  std::mutex fence_mu_;
  std::vector<uint64_t> fenced_;  // under fence_mu_, sorted
  std::atomic<bool> any_fenced_{false};  // !fenced_.empty(), read without the lock
  std::set<uint64_t> live_sessions_;
  uint64_t last_segment_ = 0;
  uint64_t next_segment_min_ = 1;  // above every segment number in the directory or the index
  SegmentState last_state_;
  RecoveryReport recovery_;
  bool read_only_ = false;
  bool opened_to_read_ = false;  // OpenOptions::read_only, whichever way the open went
  bool closed_ = false;
};

}  // namespace bv::engine
