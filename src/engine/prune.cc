#include "engine/prune.h"

#include <algorithm>
#include <set>
#include <span>
#include <unordered_map>

#include "base/time_format.h"
#include "format/block_format.h"

namespace bv::engine {

namespace {

// Deletion records written per turn of the append lane, so that pushes waiting to commit do not
// wait for a whole prune.
constexpr size_t kDeletionsPerTurn = 256;

// Every snapshot kept, newest first: a source without a policy.
std::vector<RetentionDecision> KeepAll(std::vector<SnapshotTime> times) {
  std::stable_sort(times.begin(), times.end(), [](const auto& a, const auto& b) { return a.time_us > b.time_us; });
  std::vector<RetentionDecision> out;
  for (const SnapshotTime& t : times) out.push_back(RetentionDecision{t.id, t.time_us, true, {"no retention policy"}});
  return out;
}

Result<PrunePlan> PlanSource(std::string source, std::vector<format::SnapshotRecord> records,
                             const RetentionPolicy* policy, int64_t now_us) {
  std::vector<SnapshotTime> times;
  times.reserve(records.size());
  for (const auto& r : records) times.push_back(SnapshotTime{r.id, r.time_us});
  PrunePlan plan;
  plan.source = std::move(source);
  plan.policy = policy != nullptr ? policy->ToString() : "none";
  if (policy == nullptr) {
    plan.decisions = KeepAll(std::move(times));
    return plan;
  }
  BV_ASSIGN_OR_RETURN(plan.decisions, ApplyRetention(std::move(times), *policy, now_us));
  std::unordered_map<uint64_t, size_t> at;
  for (size_t i = 0; i < records.size(); i++) at[records[i].id] = i;
  for (const RetentionDecision& d : plan.decisions) {
    if (!d.keep) plan.remove.push_back(std::move(records[at.at(d.id)]));
  }
  return plan;
}

Result<size_t> DeleteBatch(Volume* volume, std::span<const format::SnapshotRecord> batch, const std::string& reason) {
  BV_ASSIGN_OR_RETURN(AppendLane::Guard lane, volume->lane()->Lock());
  size_t removed = 0;
  for (const format::SnapshotRecord& r : batch) {
    BV_ASSIGN_OR_RETURN(auto still, volume->index()->GetSnapshot(r.id));
    if (!still) continue;  // deleted meanwhile
    format::DeletionRecord d;
    d.snapshot_id = r.id;
    d.time_us = NowMicros();
    d.reason = reason;
    BV_ASSIGN_OR_RETURN(
        Location at,
        lane.Append(format::EncodeSnapshotBlock(format::BlockType::kSnapshotDeletion, r.id, format::EncodeDeletion(d))));
    lane.pending()->DeleteSnapshot(*still, at);
    removed++;
  }
  // The records reach the disk before the index batch that forgets the snapshots.
  BV_RETURN_IF_ERROR(lane.SyncPoint(/*durable=*/true));
  return removed;
}

}  // namespace

Result<std::vector<PrunePlan>> PlanPrune(Index* index, const std::vector<std::string>& sources,
                                         const PolicyFor& policy_for, int64_t now_us) {
  std::vector<std::pair<std::string, std::vector<format::SnapshotRecord>>> by_source;
  const auto collect = [&](const std::string& only) {
    return index->ForEachSnapshot(only, [&](const SnapshotEntry& e) {
      if (by_source.empty() || by_source.back().first != e.record.source) by_source.push_back({e.record.source, {}});
      by_source.back().second.push_back(e.record);
      return true;
    });
  };
  if (sources.empty()) {
    BV_RETURN_IF_ERROR(collect(""));
  } else {
    for (const std::string& s : std::set<std::string>(sources.begin(), sources.end())) {
      const size_t before = by_source.size();
      BV_RETURN_IF_ERROR(collect(s));
      if (by_source.size() == before) return Status::NotFound("source '" + s + "' has no snapshot");
    }
  }
  std::vector<PrunePlan> plans;
  for (auto& [source, records] : by_source) {
    BV_ASSIGN_OR_RETURN(PrunePlan plan, PlanSource(source, std::move(records), policy_for(source), now_us));
    plans.push_back(std::move(plan));
  }
  return plans;
}

Result<size_t> ApplyPrune(Volume* volume, const PrunePlan& plan) {
  std::string reason = "pruned: " + plan.policy;  // ASCII: a cut is never inside a character
  if (reason.size() > format::kNameMax) reason = reason.substr(0, format::kNameMax - 3) + "...";
  BV_RETURN_IF_ERROR(format::ValidateLabel(reason, "deletion reason"));
  size_t removed = 0;
  const std::span<const format::SnapshotRecord> all(plan.remove);
  for (size_t at = 0; at < all.size(); at += kDeletionsPerTurn) {
    BV_ASSIGN_OR_RETURN(size_t n, DeleteBatch(volume, all.subspan(at, std::min(kDeletionsPerTurn, all.size() - at)), reason));
    removed += n;
  }
  return removed;
}

Result<size_t> Prune(Volume* volume, const std::vector<std::string>& sources, const PolicyFor& policy_for,
                     int64_t now_us, bool dry_run, const std::function<Status(const PrunePlan&)>& on_plan) {
  std::lock_guard lock(*volume->prune_mutex());
  BV_ASSIGN_OR_RETURN(std::vector<PrunePlan> plans, PlanPrune(volume->index(), sources, policy_for, now_us));
  size_t removed = 0;
  for (const PrunePlan& plan : plans) {
    BV_RETURN_IF_ERROR(on_plan(plan));
    if (dry_run) continue;
    BV_ASSIGN_OR_RETURN(size_t n, ApplyPrune(volume, plan));
    removed += n;
  }
  return removed;
}

}  // namespace bv::engine
