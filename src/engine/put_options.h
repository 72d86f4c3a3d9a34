// How a put runs: its source and label, the workers and batches it may use, and its quota.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <semaphore>
#include <string>

#include "engine/thread_pool.h"

namespace bv::engine {

// Batches in flight across every put that shares it: bounds a server's memory whatever the
// number of sessions (each batch holds its input and its encoded blocks). Each put keeps at most
// its share in flight (size over the puts running), so puts side by side get the workers alike.
struct BatchBudget {
  explicit BatchBudget(ptrdiff_t batches) : slots(batches), size(batches) {}
  std::counting_semaphore<1024> slots;
  const ptrdiff_t size;
  std::atomic<int> sharers{0};  // puts using it now
};

struct PutOptions {
  std::string source;
  std::string label;
  std::optional<int64_t> time_us;  // default: now
  size_t threads = 0;              // 0: one per core; ignored when `pool` is set
  ThreadPool* pool = nullptr;      // shared workers (a server's); null: the put starts its own
  BatchBudget* budget = nullptr;   // shared bound on batches in flight; null: 2 per worker + 1
  size_t batch_input = 4 << 20;    // input bytes per pipeline batch
  // The put fails (with nothing committed) once it would add more than this many bytes.
  std::optional<uint64_t> new_bytes_max;
  // Called before each new block is written, with its size: false fails the put as over quota
  // (a quota shared with other puts, reserved as their blocks are written).
  std::function<bool(uint64_t block_bytes)> reserve_new_bytes;
  // Bytes of free disk space the put leaves alone, for prune and compaction to work in when the
  // disk is full: a new block that would eat into them fails the put with NoSpace. 0: none.
  uint64_t disk_reserve = 0;
  // A put that fails with no other put in flight cuts what it wrote (AppendLane::AbandonPut). Tests
  // turn this off to leave the volume as a process that died mid-put leaves it.
  bool take_back_on_failure = true;
  // At commit, a snapshot dated at or before its source's newest is dated 1 µs after it, so that
  // it never lands under snapshots that exist (a pusher that may not rewrite what SOURCE@TIME
  // returned; docs/protocol.md §5). Decided under the append lane, so racing commits agree.
  bool date_after_newest = false;
  std::function<void(uint64_t bytes_in)> progress;
};

// What a put fails with when `new_bytes_max` is reached.
inline constexpr char kQuotaExceeded[] = "quota exceeded";
// How much the puts of a volume may write between two looks at the free space, when they keep a
// disk reserve (Volume::KeepDiskReserve).
inline constexpr uint64_t kDiskReserveCheckBytes = 4 << 20;

}  // namespace bv::engine
