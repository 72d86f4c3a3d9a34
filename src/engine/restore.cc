#include "engine/restore.h"

#include <memory>

#include "engine/block_pipeline.h"
#include "engine/chunk_id.h"
#include "engine/segment_block_source.h"

namespace bv::engine {

namespace {

PipelineOptions PipelineFor(Volume* v, const RestoreOptions& opts, ThreadPool* pool) {
  PipelineOptions p;
  p.codec = &v->codec();
  p.body_check = opts.body_check;
  p.pool = pool;
  p.batches_in_flight = opts.batches_in_flight;
  p.batch_output = opts.batch_output;
  p.stored_buffer = io::kIoBufferSize;
  p.registered = v->env();
  return p;
}

// A whole stream's recorded hash; none for a range, or a stream the snapshot lacks (the walk says so).
std::optional<StreamCheck> CheckFor(Volume* v, const SnapshotEntry& snap, const RestoreOptions& opts) {
  if (opts.range || opts.stream >= snap.record.streams.size()) return std::nullopt;
  const format::StreamInfo& info = snap.record.streams[opts.stream];
  return StreamCheck{v->keys().hash_key, info.hash, StreamPlace(snap, opts.stream, info.length)};
}

// A damaged chunk is never deduplicated against again [DMG-1].
Status Quarantine(Volume* v, const SegmentBlockSource& source, Status s) {
  std::string quarantined;
  for (const auto& [id, where] : source.damaged()) {
    auto done = v->Quarantine(id, where);
    if (done.ok() && *done) quarantined += (quarantined.empty() ? "" : ", ") + ChunkIdHex(id);
  }
  if (!quarantined.empty() && s.IsCorruption()) {
    return Status::Corruption(s.message() + " (chunk " + quarantined +
                              " quarantined: the next backup that holds it stores it again)");
  }
  return s;
}

}  // namespace

Status Restore(Volume* volume, const SnapshotEntry& snapshot, const RestoreOptions& opts, OutputSink* out) {
  if (!volume->has_keys()) return Status::InvalidArgument("restoring needs the volume key");
  EpochGate::Pass reading(volume->reads_gate());  // a segment retired meanwhile stays until this ends
  std::unique_ptr<ThreadPool> own_pool;
  if (opts.pool == nullptr) own_pool = std::make_unique<ThreadPool>(opts.threads ? opts.threads : ThreadPool::DefaultThreads());
  SegmentBlockSource source(volume, snapshot, opts.stream, opts.range, opts.read_window);
  Status s;
  {
    BlockPipeline pipeline(PipelineFor(volume, opts, opts.pool ? opts.pool : own_pool.get()));
    s = pipeline.Run(&source, out, CheckFor(volume, snapshot, opts), opts.progress);
  }
  if (s.ok()) return s;
  return Quarantine(volume, source, std::move(s));
}

}  // namespace bv::engine
