#include "server/job_config.h"

#include <set>

#include "base/duration.h"
#include "engine/verify_share.h"
#include "format/name_rules.h"
#include "format/snapshot_format.h"
#include "server/config_fields.h"
#include "server/protocol_text.h"

namespace bv::server {

namespace {

// A duration field ("10m"), in seconds within [lo, hi].
Status Duration(Fields* f, const toml::table& t, const char* key, uint64_t lo, uint64_t hi, uint64_t* out) {
  std::string text;
  BV_RETURN_IF_ERROR(f->String(key, &text));
  if (t.get(key) == nullptr) return Status::Ok();
  auto s = ParseSeconds(text);
  if (!s.ok()) return f->Error(t.get(key), key, s.status().message());
  if (*s < lo || *s > hi) {
    return f->Error(t.get(key), key, "must be from " + FormatSeconds(lo) + " to " + FormatSeconds(hi));
  }
  *out = *s;
  return Status::Ok();
}

// A command given as argv (`key`) or as shell text (`shell_key`, run by sh -c); empty when neither.
Status CommandField(Fields* f, const toml::table& t, const char* key, const char* shell_key, bool required,
                    std::vector<std::string>* argv) {
  std::string shell;
  BV_RETURN_IF_ERROR(f->Strings(key, "argument", argv));
  BV_RETURN_IF_ERROR(f->String(shell_key, &shell));
  if (!argv->empty() && !shell.empty()) {
    return f->Error(t.get(shell_key), shell_key, std::string("goes instead of ") + key + ", not with it");
  }
  if (!shell.empty()) *argv = {"sh", "-c", shell};
  if (required && argv->empty()) {
    return f->Error(nullptr, key, std::string("is missing: ") + key + " = [\"program\", \"argument\", …] or " +
                                       shell_key + " = \"…\" (run by sh -c)");
  }
  if (!argv->empty() && (*argv)[0].empty()) return f->Error(t.get(key), key, "the command's name is empty");
  return Status::Ok();
}

Status ParseStreams(Fields* f, const std::string& origin, jobs::JobSpec* job) {
  const toml::node* n = f->Node("stream");
  if (n == nullptr || !n->is_array_of_tables() || n->as_array()->empty()) {
    return f->Error(n, "stream", "must be one or more [[tenant.job.stream]] tables { name = …, command = [ … ] }");
  }
  const toml::array& arr = *n->as_array();
  if (arr.size() > jobs::kStreamsPerJobMax) return f->Error(n, "stream", "more than 64 streams");
  std::set<std::string> names;
  for (size_t i = 0; i < arr.size(); i++) {
    const std::string where = "stream[" + std::to_string(i) + "]";
    Fields sf(*arr[i].as_table(), origin, f->Name(where));
    jobs::StreamSpec s;
    BV_RETURN_IF_ERROR(sf.String("name", &s.name));
    BV_RETURN_IF_ERROR(CommandField(&sf, *arr[i].as_table(), "command", "shell", true, &s.argv));
    BV_RETURN_IF_ERROR(sf.NoOthers());
    if (arr.size() > 1 || !s.name.empty()) {
      if (Status bad = format::ValidateLabel(s.name, "stream name"); !bad.ok() || s.name.empty()) {
        return f->Error(&arr[i], where + ".name", s.name.empty() ? "a job of several streams names each" : bad.message());
      }
    }
    if (!names.insert(s.name).second) return f->Error(&arr[i], where + ".name", "\"" + s.name + "\" is named twice");
    job->streams.push_back(std::move(s));
  }
  return Status::Ok();
}

// What every job has: a name, when it runs, its timeout and its retries.
Status ParseWhen(Fields& f, const toml::table& t, jobs::JobSpec* job) {
  BV_RETURN_IF_ERROR(f.String("name", &job->name));
  if (Status s = jobs::ValidateJobName(job->name); !s.ok()) return f.Error(t.get("name"), "name", s.message());
  std::string schedule;
  BV_RETURN_IF_ERROR(f.String("schedule", &schedule));
  if (!schedule.empty()) {
    auto c = jobs::CronSchedule::Parse(schedule);
    if (!c.ok()) return f.Error(t.get("schedule"), "schedule", c.status().message());
    job->schedule = *c;
  }
  BV_RETURN_IF_ERROR(f.String("zone", &job->zone));
  if (auto z = jobs::FindZone(job->zone); !z.ok()) return f.Error(t.get("zone"), "zone", z.status().message());
  BV_RETURN_IF_ERROR(Duration(&f, t, "jitter", 0, 86400, &job->jitter_s));
  BV_RETURN_IF_ERROR(Duration(&f, t, "timeout", 1, 7 * 86400, &job->timeout_s));
  uint32_t retries = 0;
  BV_RETURN_IF_ERROR(f.Integer("retries", &retries, 0, jobs::kAttemptsMax - 1));
  job->attempts = retries + 1;
  BV_RETURN_IF_ERROR(Duration(&f, t, "retry_delay", 0, 86400, &job->retry_delay_s));
  return Duration(&f, t, "retry_delay_max", 0, 7 * 86400, &job->retry_delay_max_s);
}

// What backup and restore jobs have besides: a source, and how their commands run.
Status ParseCommand(Fields& f, const toml::table& t, jobs::JobSpec* job) {
  BV_RETURN_IF_ERROR(f.String("source", &job->source));
  if (Status s = format::ValidateSourceName(job->source); !s.ok()) return f.Error(t.get("source"), "source", s.message());
  BV_RETURN_IF_ERROR(f.String("user", &job->user));
  BV_RETURN_IF_ERROR(f.String("dir", &job->dir));
  if (!job->dir.empty() && job->dir[0] != '/') return f.Error(t.get("dir"), "dir", "must be an absolute path");
  if (const toml::node* env = f.Node("env")) {
    if (!env->is_table()) return f.Error(env, "env", "must be a table { NAME = \"value\", … }");
    for (const auto& [k, v] : *env->as_table()) {
      const std::string name(k.str());
      if (name.empty() || name.find('=') != std::string::npos || !v.is_string()) {
        return f.Error(&v, "env." + name, "must be a string, under a name without '='");
      }
      job->env.push_back(name + "=" + v.as_string()->get());
    }
  }
  return Status::Ok();
}

Status ParseJob(const toml::table& t, const std::string& origin, const std::string& path, jobs::JobSpec* job) {
  Fields f(t, origin, path);
  BV_RETURN_IF_ERROR(ParseWhen(f, t, job));
  BV_RETURN_IF_ERROR(ParseCommand(f, t, job));
  BV_RETURN_IF_ERROR(f.Bool("prune", &job->prune));
  BV_RETURN_IF_ERROR(ParseStreams(&f, origin, job));
  return f.NoOthers();
}

Status ParseRestore(const toml::table& t, const std::string& origin, const std::string& path, jobs::JobSpec* job) {
  Fields f(t, origin, path);
  job->kind = jobs::JobKind::kRestore;
  BV_RETURN_IF_ERROR(ParseWhen(f, t, job));
  BV_RETURN_IF_ERROR(ParseCommand(f, t, job));
  BV_RETURN_IF_ERROR(f.String("stream", &job->stream));
  BV_RETURN_IF_ERROR(CommandField(&f, t, "command", "shell", true, &job->consumer));
  BV_RETURN_IF_ERROR(CommandField(&f, t, "check", "check_shell", false, &job->check));
  BV_RETURN_IF_ERROR(f.String("backup_first", &job->backup_first));
  return f.NoOthers();
}

Status ParsePrune(const toml::table& t, const std::string& origin, const std::string& path, jobs::JobSpec* job) {
  Fields f(t, origin, path);
  job->kind = jobs::JobKind::kPrune;
  BV_RETURN_IF_ERROR(ParseWhen(f, t, job));
  BV_RETURN_IF_ERROR(f.Strings("sources", "source name", &job->sources));
  for (const std::string& s : job->sources) {
    if (Status bad = format::ValidateSourceName(s); !bad.ok()) return f.Error(t.get("sources"), "sources", bad.message());
  }
  BV_RETURN_IF_ERROR(f.Bool("compact", &job->compact));
  uint32_t threshold = 0;
  BV_RETURN_IF_ERROR(f.Integer("compact_threshold", &threshold, 1, 100));
  job->compact_threshold = threshold / 100.0;
  BV_RETURN_IF_ERROR(f.Integer("compact_max_rate", &job->compact_max_rate, 0, int64_t{1} << 40));
  if (!job->compact && (t.get("compact_threshold") != nullptr || t.get("compact_max_rate") != nullptr)) {
    return f.Error(t.get("compact"), "compact", "is false, so compact_threshold and compact_max_rate mean nothing");
  }
  return f.NoOthers();
}

// "N/D": a share of the volume, 0 < N ≤ D ≤ 1000.
Status ParseShare(Fields& f, const toml::table& t, jobs::JobSpec* job) {
  std::string text = "1/1";
  BV_RETURN_IF_ERROR(f.String("share", &text));
  const size_t slash = text.find('/');
  auto num = ParseDecimal(text.substr(0, slash));
  auto den = slash == std::string::npos ? std::optional<uint64_t>(1) : ParseDecimal(text.substr(slash + 1));
  if (!num || !den || *num == 0 || *num > *den || *den > engine::kShareDenMax) {
    return f.Error(t.get("share"), "share", "\"" + text + "\" is not a share such as \"1/7\" (N/D, 0 < N ≤ D ≤ 1000)");
  }
  job->share_num = *num;
  job->share_den = *den;
  return Status::Ok();
}

Status ParseVerify(const toml::table& t, const std::string& origin, const std::string& path, jobs::JobSpec* job) {
  Fields f(t, origin, path);
  job->kind = jobs::JobKind::kVerify;
  BV_RETURN_IF_ERROR(ParseWhen(f, t, job));
  BV_RETURN_IF_ERROR(ParseShare(f, t, job));
  return f.NoOthers();
}

// `[[tenant.job]]`, `[[tenant.restore]]`, `[[tenant.prune]]` or `[[tenant.verify]]` tables into `out`.
Status ParseTables(const toml::node& node, const std::string& origin, const std::string& path, const char* what,
                   Status (*parse)(const toml::table&, const std::string&, const std::string&, jobs::JobSpec*),
                   std::vector<jobs::JobSpec>* out) {
  if (!node.is_array_of_tables()) {
    return Status::InvalidArgument(origin + ": " + path + ": must be " + what + " tables");
  }
  const toml::array& arr = *node.as_array();
  if (arr.size() + out->size() > jobs::kJobsPerTenantMax) {
    return Status::InvalidArgument(origin + ": " + path + ": more than 1000 jobs");
  }
  for (size_t i = 0; i < arr.size(); i++) {
    const std::string where = path + "[" + std::to_string(i) + "]";
    jobs::JobSpec job;
    BV_RETURN_IF_ERROR(parse(*arr[i].as_table(), origin, where, &job));
    for (const jobs::JobSpec& other : *out) {
      if (other.name == job.name) {
        return Status::InvalidArgument(origin + ": " + where + ".name: job \"" + job.name + "\" is named twice");
      }
    }
    out->push_back(std::move(job));
  }
  return Status::Ok();
}

}  // namespace

Status ParseJobs(const JobTables& tables, const std::string& origin, const std::string& path,
                 std::vector<jobs::JobSpec>* out) {
  struct Kind {
    const toml::node* node;
    const char* key;
    const char* what;
    Status (*parse)(const toml::table&, const std::string&, const std::string&, jobs::JobSpec*);
  };
  const Kind kinds[] = {{tables.backups, ".job", "[[tenant.job]]", ParseJob},
                        {tables.restores, ".restore", "[[tenant.restore]]", ParseRestore},
                        {tables.prunes, ".prune", "[[tenant.prune]]", ParsePrune},
                        {tables.verifies, ".verify", "[[tenant.verify]]", ParseVerify}};
  for (const Kind& k : kinds) {
    if (k.node != nullptr) BV_RETURN_IF_ERROR(ParseTables(*k.node, origin, path + k.key, k.what, k.parse, out));
  }
  for (const jobs::JobSpec& j : *out) {
    if (j.backup_first.empty()) continue;
    bool found = false;
    for (const jobs::JobSpec& b : *out) found = found || (b.name == j.backup_first && b.kind == jobs::JobKind::kBackup);
    if (!found) {
      return Status::InvalidArgument(origin + ": " + path + ".restore: job " + j.name + ": backup_first names no backup job \"" +
                                     j.backup_first + "\"");
    }
  }
  return Status::Ok();
}

Status ParseNotify(Fields& f, const toml::table& t, std::vector<std::string>* argv) {
  return CommandField(&f, t, "notify", "notify_shell", false, argv);
}

}  // namespace bv::server
