// Prune: a retention policy applied to a volume's sources (docs/retention.md). The plan says, for
// each snapshot of each source, keep or remove and which rules decided; applying it writes the
// deletion records to the segments, synced, before the index forgets the snapshots, so that a
// rebuild of the index from the segments never brings a pruned snapshot back.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/retention.h"
#include "engine/volume.h"

namespace bv::engine {

struct PrunePlan {
  std::string source;
  std::string policy;                          // what decided: RetentionPolicy::ToString(), or "none"
  std::vector<RetentionDecision> decisions;    // newest first
  std::vector<format::SnapshotRecord> remove;  // the snapshots not kept
};

// The policy of a source; nullptr when it has none, and then every snapshot of it is kept (with
// the reason "no retention policy").
using PolicyFor = std::function<const RetentionPolicy*(const std::string& source)>;

// A plan per source, in source order: the `sources` named (each must have a snapshot), or every
// source when none is named.
Result<std::vector<PrunePlan>> PlanPrune(Index* index, const std::vector<std::string>& sources,
                                         const PolicyFor& policy_for, int64_t now_us);

// Removes what `plan` says to, durable when it returns; "pruned: " and the plan's policy (cut to
// a label's 255 bytes) go into each deletion record. Snapshots another deletion removed meanwhile
// are skipped. Returns how many this call removed.
Result<size_t> ApplyPrune(Volume* volume, const PrunePlan& plan);

// A whole prune: plans, and unless dry_run removes, under the volume's prune mutex, so that two
// prunes cannot together undercut a min_keep each of them keeps. `on_plan` sees each source's
// plan before its removals. Returns how many snapshots were removed.
Result<size_t> Prune(Volume* volume, const std::vector<std::string>& sources, const PolicyFor& policy_for,
                     int64_t now_us, bool dry_run, const std::function<Status(const PrunePlan&)>& on_plan);

}  // namespace bv::engine
