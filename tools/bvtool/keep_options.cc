#include "tools/bvtool/keep_options.h"

#include <map>

namespace bv::tool {

namespace {

// What each option says in --help, by rule name.
const std::map<std::string_view, const char*>& Help() {
  static const std::map<std::string_view, const char*> kHelp{
      {"last", "keep the N newest snapshots"},
      {"hourly", "keep the newest snapshot of each of the N newest hours that have one"},
      {"daily", "… of each of the N newest days (UTC)"},
      {"weekly", "… of each of the N newest ISO weeks"},
      {"monthly", "… of each of the N newest months"},
      {"yearly", "… of each of the N newest years"},
      {"within", "keep every snapshot newer than the newest less DURATION (30d, 2w3d, 1y6m, 12h)"},
      {"within-hourly", "keep the newest of each hour within DURATION"},
      {"within-daily", "keep the newest of each day within DURATION"},
      {"within-weekly", "keep the newest of each ISO week within DURATION"},
      {"within-monthly", "keep the newest of each month within DURATION"},
      {"within-yearly", "keep the newest of each year within DURATION"},
      {"min-keep", "never keep fewer than N snapshots of a source (default 1)"},
  };
  return kHelp;
}

}  // namespace

void AddKeepOptions(CLI::App* sub, KeepOptions* k) {
  const auto& rules = engine::RetentionRules();
  for (size_t i = 0; i < rules.size(); i++) {
    const engine::RetentionRuleInfo& r = rules[i];
    const std::string flag = std::string(r.guard() ? "--" : "--keep-") + std::string(r.name);
    sub->add_option(flag, k->values[i], Help().at(r.name))->type_name(r.count != nullptr ? "N" : "DURATION");
  }
}

std::vector<std::pair<const engine::RetentionRuleInfo*, std::string>> KeepOptions::Rules() const {
  std::vector<std::pair<const engine::RetentionRuleInfo*, std::string>> out;
  const auto& rules = engine::RetentionRules();
  for (size_t i = 0; i < rules.size(); i++) {
    if (!values[i].empty()) out.emplace_back(&rules[i], values[i]);
  }
  return out;
}

Result<engine::RetentionPolicy> KeepOptions::Policy() const {
  engine::RetentionPolicy p;
  for (const auto& [rule, value] : Rules()) {
    if (Status s = engine::SetRetentionRule(&p, rule->name, value); !s.ok()) {
      return Status::InvalidArgument((rule->guard() ? "--" : "--keep-") + s.message());
    }
  }
  BV_RETURN_IF_ERROR(engine::CheckRetentionPolicy(p));
  return p;
}

}  // namespace bv::tool
