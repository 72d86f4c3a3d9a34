// PRUNE (docs/protocol.md §8, docs/retention.md): a retention policy applied to the tenant's
// sources. The policy is the request's keep options when it has any, else each source's
// configured one. Every decision is a DECISION line; the removals are durable before OK.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
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
  // A source's configured min_keep is a floor that a request's policy cannot go below.
  std::map<std::string, engine::RetentionPolicy> floored;
  const auto policy_for = [&](const std::string& source) -> const engine::RetentionPolicy* {
    const engine::RetentionPolicy* configured = cfg.RetentionFor(source);
    if (!*given) return configured;
    engine::RetentionPolicy& p = floored[source] = **given;
    if (configured != nullptr) p.min_keep = std::max(p.min_keep, configured->min_keep);
    return &p;
  };
  size_t sources = 0, kept = 0;
  bool replies_ok = true;
  auto removed = engine::Prune(ctx->tenant->volume(), r.args, policy_for, NowMicros(), dry_run,
                               [&](const engine::PrunePlan& plan) {
                                 sources++;
                                 kept += plan.decisions.size() - plan.remove.size();
                                 replies_ok = ReplyDecisions(ctx, plan);
                                 return replies_ok ? Status::Ok() : Status::IOError("the client went away");
                               });
  if (!replies_ok) return false;
  if (!removed.ok()) return ctx->conn.ReplyError(removed.status()).ok();
  if (*removed > 0) ctx->Log(spdlog::level::info, "PRUNE removed " + std::to_string(*removed) + " snapshots");
  return ctx->conn
      .Reply("OK sources=" + std::to_string(sources) + " kept=" + std::to_string(kept) +
             " removed=" + std::to_string(*removed) + " dry_run=" + (dry_run ? "true" : "false"))
      .ok();
}

}  // namespace bv::server
