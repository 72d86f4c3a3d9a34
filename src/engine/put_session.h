// The write path: streams in, one snapshot out (the pipeline that carries the bytes is
// engine/ingest.h). Commit order: data and recipe blocks, commit block, fdatasync, index batch
// with sync; only then does Commit (or Put) return.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/put_options.h"
#include "engine/stream_io.h"
#include "engine/volume.h"
#include "format/snapshot_format.h"

namespace bv::engine {

struct NamedInput {
  std::string name;  // "" for a single anonymous stream
  InputStream* input;
};

// A put driven by its caller, stream by stream and write by write. Sync makes everything taken so
// far durable and records the session in the index, so that Resume can pick it up at that point
// after a disconnect or a crash (docs/protocol.md §6). Without Commit, nothing is
// committed: destroying an uncommitted session leaves no snapshot.
class Ingest;

class PutSession {
 public:
  // Reserves the snapshot id; the session is recorded at its first Sync.
  static Result<std::unique_ptr<PutSession>> Begin(Volume* v, const PutOptions& opts);
  // The session `id` as its last Sync left it: streams done, and the open stream at the offset
  // synced (its hash rebuilt from the stored bytes). Busy if another PutSession holds it.
  static Result<std::unique_ptr<PutSession>> Resume(Volume* v, uint64_t id, const PutOptions& opts);
  ~PutSession();

  uint64_t id() const;
  uint16_t streams_done() const;
  bool in_stream() const;
  uint64_t offset() const;  // bytes of the open stream taken so far
  Status StartStream(const std::string& name);
  Status Write(std::string_view bytes);
  // Reads once from `in` straight into the pipeline's buffer (no copy of its own) and takes what
  // came: the byte count, 0 at the end of the input.
  Result<size_t> WriteFrom(InputStream* in);
  // All of a mapped file, chunked where it lies in memory (no copy); then EndStream. Only first
  // in a stream.
  Status WriteMapped(io::MappedFile* m);
  Status EndStream();
  Status Sync();
  Result<format::SnapshotRecord> Commit();  // durable when it returns
  Status Abort();                           // forgets the session

 private:
  explicit PutSession(Volume* v);
  Status DateAfterNewest();
  Volume* v_;
  EpochGate::Pass in_puts_;  // compaction waits for the puts that began before its fence
  std::unique_ptr<Ingest> impl_;
  uint64_t claimed_ = 0;
  bool committed_ = false;
  bool take_back_ = true;
  bool date_after_newest_ = false;
};

// Forgets sessions last synced before `older_than_us` (their clients gave up).
Status ExpireSessions(Volume* volume, int64_t older_than_us, std::vector<uint64_t>* expired);

// Durable when it returns: the snapshot survives any crash from then on. Safe to call from
// several threads at once on one volume: appends interleave a batch at a time. A put that fails
// because its input failed leaves the writer to the others; one whose writes failed drops it.
Result<format::SnapshotRecord> Put(Volume* volume, const PutOptions& opts, const std::vector<NamedInput>& streams);

}  // namespace bv::engine
