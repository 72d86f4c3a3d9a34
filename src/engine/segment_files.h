// DIR/segments/ of one volume: what its files are called, which exist, and the one cache of open
// files that every reader shares (restores side by side, scans, splices to a socket), all through
// the volume's io::Env. Writers open their own (SegmentWriter, recovery's cut).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "io/env.h"

namespace bv::engine {

enum class SegmentAccess {
  kDirect,  // O_DIRECT where the file system allows: reads into the engine's own buffers
  kCached,  // through the page cache: for splice(2) to a socket
};

class SegmentFiles {
 public:
  // Files kept open, for both kinds of access together. Restores that read many segments at once
  // reopen a few; each open is a few microseconds against a block read's tens.
  static constexpr size_t kOpenFilesMax = 32;

  SegmentFiles(io::Env* env, std::string dir) : env_(env), dir_(std::move(dir)) {}
  SegmentFiles(const SegmentFiles&) = delete;
  SegmentFiles& operator=(const SegmentFiles&) = delete;

  io::Env* env() const { return env_; }
  const std::string& dir() const { return dir_; }
  std::string Path(uint64_t segment) const;
  // "segment seg-000000000042.bvs": how messages name it.
  static std::string Name(uint64_t segment);
  // Where recovery keeps a copy of a cut tail that held valid blocks (format-spec [SCAN-4]).
  std::string LostAndFoundDir() const;

  // Segment numbers present in the directory, ascending.
  Result<std::vector<uint64_t>> List() const;
  // The segment's file, open to read; shared, so it stays open for whoever holds it after the
  // cache lets it go. A segment that is gone is NotFound. Thread-safe.
  Result<std::shared_ptr<io::File>> Open(uint64_t segment, SegmentAccess access = SegmentAccess::kDirect);
  // Closes the cached files of a segment that was removed or replaced.
  void Forget(uint64_t segment);
  // The size of the segment's file; 0 when it is gone. Not through the cache: a count over every
  // segment would push out the files readers use.
  Result<uint64_t> FileSize(uint64_t segment);
  // The bytes of every segment file: what the volume takes on disk.
  Result<uint64_t> TotalBytes();

 private:
  struct Entry {
    uint64_t segment;
    SegmentAccess access;
    std::shared_ptr<io::File> file;
  };
  io::Env* env_;
  std::string dir_;
  std::mutex mu_;
  std::list<Entry> open_;  // most recently used first
};

}  // namespace bv::engine
