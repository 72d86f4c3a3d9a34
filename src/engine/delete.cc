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
  BV_ASSIGN_OR_RETURN(AppendLane::Guard lane, volume->lane()->Lock());
  // Deletions of one snapshot race to the lane: the first writes its record, the rest find it gone.
  BV_ASSIGN_OR_RETURN(auto still, volume->index()->GetSnapshot(snapshot.id));
  if (!still) return Status::NotFound("snapshot " + format::SnapshotIdHex(snapshot.id) + " is deleted already");
  BV_ASSIGN_OR_RETURN(
      Location at,
      lane.Append(format::EncodeSnapshotBlock(format::BlockType::kSnapshotDeletion, snapshot.id, format::EncodeDeletion(d))));
  lane.pending()->DeleteSnapshot(*still, at);
  return lane.SyncPoint(/*durable=*/true);
}

}  // namespace bv::engine
