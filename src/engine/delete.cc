#include "engine/delete.h"

#include "base/time_format.h"
#include "format/block_format.h"

namespace bv::engine {

Status DeleteSnapshot(Volume* volume, const format::SnapshotRecord& snapshot, const std::string& reason) {
  BV_RETURN_IF_ERROR(format::ValidateLabel(reason, "deletion reason"));
  format::DeletionRecord d;
  d.snapshot_id = snapshot.id;
  d.time_us = NowMicros();
  d.reason = reason;
  return volume->WithWriter(std::nullopt, [&](SegmentWriter* w) -> Status {
    format::BlockHeader h;
    h.type = format::BlockType::kSnapshotDeletion;
    h.id = format::SnapshotIdToBlockId(snapshot.id);
    const std::string payload = format::EncodeDeletion(d);
    h.raw_len = static_cast<uint32_t>(payload.size());
    BV_RETURN_IF_ERROR(w->Append(format::EncodeBlock(h, payload)).status());
    BV_RETURN_IF_ERROR(w->Sync());
    IndexBatch batch = volume->index()->NewBatch();
    w->RecordStates(&batch);
    batch.DeleteSnapshot(snapshot);
    return volume->index()->Write(&batch, /*sync=*/true);
  });
}

}  // namespace bv::engine
