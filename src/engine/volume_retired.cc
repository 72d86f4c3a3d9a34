// Volume's part of compaction's last step (format-spec §12 [CMP-5]): the files of retired segments
// go, after their numbers are in DIR/RETIRED.
#include "engine/volume.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "engine/retired_list.h"

namespace bv::engine {

Status Volume::RemoveFiles(const std::vector<uint64_t>& segments) {
  // The file system frees a removed file's blocks within unlink(2), a few milliseconds per
  // 32 MiB here: side by side, removals take about two thirds of the time.
  const size_t threads = std::min<size_t>(segments.size(), kRemoveThreadsMax);
  std::atomic<size_t> next{0};
  std::vector<Status> failed(threads);
  auto remove = [&](size_t worker) {
    for (size_t i = next++; i < segments.size() && failed[worker].ok(); i = next++) {
      failed[worker] = env_->RemoveFile(files_->Path(segments[i]));
    }
  };
  std::vector<std::thread> helpers;
  for (size_t w = 1; w < threads; w++) helpers.emplace_back(remove, w);
  remove(0);
  for (std::thread& t : helpers) t.join();
  for (const Status& s : failed) BV_RETURN_IF_ERROR(s);
  return Status::Ok();
}

Status Volume::RemoveRetired(const std::vector<uint64_t>& segments) {
  if (segments.empty()) return Status::Ok();
  std::vector<uint64_t> present;
  for (uint64_t segment : segments) {
    BV_ASSIGN_OR_RETURN(auto state, index_->GetSegment(segment));
    BV_ASSERT(state && state->retired);
    if (env_->PathExists(files_->Path(segment))) present.push_back(segment);
  }
  if (!present.empty()) {
    BV_RETURN_IF_ERROR(AddToRetiredList(env_.get(), dir_, present));
    BV_RETURN_IF_ERROR(RemoveFiles(present));
    BV_RETURN_IF_ERROR(env_->SyncDir(files_->dir()));
  }
  for (uint64_t segment : segments) files_->Forget(segment);
  {
    std::lock_guard lock(stored_mu_);
    sealed_run_end_ = 0;  // the counted run changed: count it again
    sealed_run_bytes_ = 0;
  }
  IndexBatch batch = index_->NewBatch();
  for (uint64_t segment : segments) batch.ForgetSegmentBlocks(segment);
  return index_->Write(&batch, /*sync=*/true);
}

}  // namespace bv::engine
