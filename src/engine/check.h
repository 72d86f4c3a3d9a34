// Checking a volume: `fsck` (segments against index, no key needed) and `verify` (also every
// tag and every stream hash, with the key). Damage is named by segment, offset and the snapshots
// it touches.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/volume.h"

namespace bv::engine {

struct Damage {
  uint64_t segment = 0;
  uint64_t offset = 0;  // first damaged byte
  uint64_t end = 0;     // where valid blocks resume (the segment's size if none do)
  std::string what;
  std::vector<format::Id> chunks;    // chunks stored in the damaged range
  std::vector<uint64_t> snapshots;   // snapshots that reference them, or whose recipe or commit is there
  // The header at `offset`, when it is readable (its body is what is damaged).
  std::optional<format::BlockHeader> header;
  // Snapshots whose commit block is in the range and that the index therefore does not list.
  std::vector<uint64_t> lost;
  // When the range's content is not known (no readable header there, or a commit's): snapshots
  // with recipe pieces but no commit block anywhere, which it may have held.
  std::vector<uint64_t> maybe_lost;
};

struct CheckReport {
  uint64_t segments = 0;
  uint64_t blocks = 0;
  uint64_t bytes = 0;
  uint64_t snapshots_checked = 0;
  std::vector<Damage> damage;
  std::vector<std::string> problems;  // index inconsistencies and failed snapshot checks
  std::vector<std::string> notes;     // worth saying, not damage (a torn tail left in place)
  uint64_t superseded = 0;            // damaged blocks whose chunk has a good copy (in notes)
  bool clean() const { return damage.empty() && problems.empty(); }
};

struct CheckOptions {
  bool decode_data = false;   // check every data block's tag, or decompress it if unencrypted (needs the key)
  bool stream_hashes = false; // restore every stream to nowhere and check its hash (needs the key)
  std::optional<uint64_t> snapshot;  // only this snapshot's streams
};

// Scans every segment block by block, checks the index against them, maps damage to snapshots.
Status CheckVolume(Volume* v, const CheckOptions& opts, CheckReport* report);

// Quarantines every damaged chunk (Volume::Quarantine), so the next backup that holds those
// bytes stores them again rather than deduplicating against damage.
Status QuarantineDamagedChunks(Volume* v, const CheckReport& report, uint64_t* quarantined);


}  // namespace bv::engine
