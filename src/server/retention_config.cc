#include "server/retention_config.h"

#include "format/snapshot_format.h"

namespace bv::server {

namespace {

Status Error(const toml::node& n, const std::string& origin, const std::string& path, const std::string& what) {
  return Status::InvalidArgument(origin + ":" + std::to_string(n.source().begin.line) + ":" +
                                 std::to_string(n.source().begin.column) + ": " + path + ": " + what);
}

}  // namespace

Status ParseRetention(const toml::node& node, const std::string& origin, const std::string& path,
                      engine::RetentionPolicy* out) {
  if (!node.is_table()) return Error(node, origin, path, "must be a table { keep_daily = 7, keep_within = \"30d\", … }");
  engine::RetentionPolicy p;
  for (const auto& [k, v] : *node.as_table()) {
    const std::string key(k.str());
    const std::string rule = engine::RetentionRuleOfKey(key);
    if (rule.empty()) {
      return Error(v, origin, path + "." + key,
                   "unknown field (keep_last, keep_hourly … keep_yearly, keep_within, keep_within_hourly … "
                   "keep_within_yearly, min_keep)");
    }
    const bool duration = rule.rfind("within", 0) == 0;
    std::string text;
    if (duration && v.is_string()) {
      text = v.as_string()->get();
    } else if (!duration && v.is_integer()) {
      text = std::to_string(v.as_integer()->get());
    } else {
      return Error(v, origin, path + "." + key, duration ? "must be a duration string (\"30d\")" : "must be an integer");
    }
    if (Status s = engine::SetRetentionRule(&p, rule, text); !s.ok()) {
      return Error(v, origin, path + "." + key, s.message());
    }
  }
  if (Status s = engine::CheckRetentionPolicy(p); !s.ok()) return Error(node, origin, path, s.message());
  *out = p;
  return Status::Ok();
}

Status ParseSourceRetention(const toml::node& node, const std::string& origin, const std::string& path,
                            std::map<std::string, engine::RetentionPolicy>* out) {
  const toml::array* sources = node.as_array();
  if (sources == nullptr) return Error(node, origin, path, "must be [[tenant.source]] tables");
  if (sources->size() > kSourcesPerTenantMax) return Error(node, origin, path, "more than 10000 sources");
  for (size_t i = 0; i < sources->size(); i++) {
    const toml::node& s = (*sources)[i];
    const std::string where = path + "[" + std::to_string(i) + "]";
    const toml::table* t = s.as_table();
    if (t == nullptr) return Error(s, origin, where, "must be a table { name = …, retention = { … } }");
    const toml::node* name = t->get("name");
    const toml::node* retention = t->get("retention");
    if (name == nullptr || !name->is_string() || name->as_string()->get().empty()) {
      return Error(s, origin, where + ".name", "must be the source's name");
    }
    if (retention == nullptr) return Error(s, origin, where + ".retention", "is missing");
    for (const auto& [k, v] : *t) {
      if (k.str() != "name" && k.str() != "retention") return Error(v, origin, where + "." + std::string(k.str()), "unknown field");
    }
    const std::string source = name->as_string()->get();
    if (Status bad = format::ValidateSourceName(source); !bad.ok()) {
      return Error(*name, origin, where + ".name", bad.message());
    }
    if (out->count(source)) return Error(*name, origin, where + ".name", "source '" + source + "' is named twice");
    BV_RETURN_IF_ERROR(ParseRetention(*retention, origin, where + ".retention", &(*out)[source]));
  }
  return Status::Ok();
}

}  // namespace bv::server
