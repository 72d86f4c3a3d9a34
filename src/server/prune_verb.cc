// PRUNE (docs/protocol.md §8, docs/retention.md): a retention policy applied to the tenant's
// sources. The policy is the request's keep options when it has any, else each source's
// configured one. Every decision is a DECISION line; the removals are durable before OK.
#include <spdlog/spdlog.h>

#include <string>

#include "base/time_format.h"
#include "engine/prune.h"
#include "server/session_verbs.h"

namespace bv::server {

namespace {

constexpr const char* kUsage =
    "PRUNE [SOURCE]... [keep_last=N] [keep_hourly=N] [keep_daily=N] [keep_weekly=N] [keep_monthly=N] "
    "[keep_yearly=N] [keep_within=D] [keep_within_hourly=D] … [keep_within_yearly=D] [min_keep=N] [dry_run=true]";

// The keep options of the request as a policy; nullopt when it has none (the config decides).
Result<std::optional<engine::RetentionPolicy>> RequestPolicy(const Request& r) {
  engine::RetentionPolicy p;
  bool any = false;
  for (const auto& [key, value] : r.options) {
    if (key == "dry_run") continue;
    if (Status s = engine::SetRetentionRule(&p, engine::RetentionRuleOfKey(key), value); !s.ok()) {
      return Status::InvalidArgument(key + "=" + value + ": " + s.message());
    }
    any = any || key != "min_keep";
  }
  if (!any) {
    if (r.Option("min_keep") != nullptr) return Status::InvalidArgument("min_keep= needs keep options beside it");
    return std::optional<engine::RetentionPolicy>();
  }
  BV_RETURN_IF_ERROR(engine::CheckRetentionPolicy(p));
  return std::optional<engine::RetentionPolicy>(p);
}

bool ReplyDecisions(SessionContext* ctx, const engine::PrunePlan& plan) {
  for (const engine::RetentionDecision& d : plan.decisions) {
    std::string reasons;
    for (const std::string& why : d.reasons) reasons += (reasons.empty() ? "" : ",") + why;
    if (!ctx->conn
             .Reply("DECISION source=" + EscapeValue(plan.source) + " snapshot=" + format::SnapshotIdHex(d.id) +
                    " time=" + FormatTime(d.time_us) + " keep=" + (d.keep ? "true" : "false") +
                    " reasons=" + EscapeValue(reasons))
             .ok()) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool HandlePrune(SessionContext* ctx, const Request& r) {
  if (!RoleMayDelete(ctx->role)) return ctx->Denied("prune");
  if (ctx->tenant->config().append_only) {
    return ctx->conn.LastReply("ERR denied tenant " + ctx->tenant->name() +
                               " is append-only: only the appliance's own retention removes snapshots");
  }
  if (!ctx->Arity(r, 0, kArgsMax,
                  {"keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly", "keep_within",
                   "keep_within_hourly", "keep_within_daily", "keep_within_weekly", "keep_within_monthly",
                   "keep_within_yearly", "min_keep", "dry_run"},
                  kUsage)) {
    return false;
  }
  const std::string* dry = r.Option("dry_run");
  if (dry != nullptr && *dry != "true" && *dry != "false") {
    return ctx->conn.ReplyError(Status::InvalidArgument("dry_run= is true or false, not " + *dry)).ok();
  }
  const bool dry_run = dry != nullptr && *dry == "true";
  auto given = RequestPolicy(r);
  if (!given.ok()) return ctx->conn.ReplyError(given.status()).ok();
  const TenantConfig cfg = ctx->tenant->config();
  if (!*given && !cfg.retention && cfg.source_retention.empty()) {
    return ctx->conn
        .ReplyError(Status::InvalidArgument("tenant " + ctx->tenant->name() +
                                            " has no retention policy in the configuration; give keep options"))
        .ok();
  }
  engine::Volume* volume = ctx->tenant->volume();
  auto plans = engine::PlanPrune(
      volume->index(), r.args,
      [&](const std::string& source) { return *given ? &**given : cfg.RetentionFor(source); }, NowMicros());
  if (!plans.ok()) return ctx->conn.ReplyError(plans.status()).ok();
  size_t kept = 0, removed = 0;
  for (const engine::PrunePlan& plan : *plans) {
    if (!ReplyDecisions(ctx, plan)) return false;
    kept += plan.decisions.size() - plan.remove.size();
    if (dry_run) continue;
    auto n = engine::ApplyPrune(volume, plan, "pruned: " + plan.policy);
    if (!n.ok()) return ctx->conn.ReplyError(n.status()).ok();
    removed += *n;
    if (*n > 0) ctx->Log(spdlog::level::info, "PRUNE " + plan.source + ": removed " + std::to_string(*n) + " (" + plan.policy + ")");
  }
  return ctx->conn
      .Reply("OK sources=" + std::to_string(plans->size()) + " kept=" + std::to_string(kept) + " removed=" +
             std::to_string(dry_run ? 0 : removed) + " dry_run=" + (dry_run ? "true" : "false"))
      .ok();
}

}  // namespace bv::server
