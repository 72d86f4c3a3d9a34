// The write path: streams in, one snapshot out. Chunking and the stream hash run in order on the
// calling thread; chunk ids, dedup lookups, compression and encryption run on every core; blocks
// are appended in stream order. Commit order: data and recipe blocks, commit block, fdatasync,
// index batch with sync; only then does Put return.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/stream_io.h"
#include "engine/volume.h"
#include "format/snapshot_format.h"

namespace bv::engine {

struct PutOptions {
  std::string source;
  std::string label;
  std::optional<int64_t> time_us;  // default: now
  size_t threads = 0;              // 0: one per core
  std::function<void(uint64_t bytes_in)> progress;
};

struct NamedInput {
  std::string name;  // "" for a single anonymous stream
  InputStream* input;
};

// Durable when it returns: the snapshot survives any crash from then on.
Result<format::SnapshotRecord> Put(Volume* volume, const PutOptions& opts, const std::vector<NamedInput>& streams);

}  // namespace bv::engine
