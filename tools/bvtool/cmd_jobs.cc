// bvtool jobs, job-history, run-job and cancel-job: bvd's jobs (docs/jobs.md), through
// JOBS, HISTORY, RUN and CANCEL (docs/protocol.md §8).
#include <cstdio>
#include <iostream>

#include "base/duration.h"
#include "tools/bvtool/commands.h"
#include "tools/bvtool/reply_fields.h"

namespace bv::tool {

using nlohmann::json;

namespace {

// A field that is "-" when it has no value: JSON null then.
json OrNull(const server::Reply& r, const char* key) {
  const std::string v = FieldText(r, key);
  return v == "-" || v.empty() ? json(nullptr) : json(v);
}

json NumberOrNull(const server::Reply& r, const char* key) {
  const std::string v = FieldText(r, key);
  return v == "-" || v.empty() ? json(nullptr) : json(std::stoll(v));
}

}  // namespace

int RemoteJobs(const Common& c, const Remote& remote) {
  std::vector<server::Reply> lines;
  (void)Exchange(remote, "JOBS", &lines);
  json out = json::array();
  for (const server::Reply& r : lines) {
    if (r.kind != "JOB") continue;
    out.push_back({{"name", FieldText(r, "name")},       {"kind", FieldText(r, "kind")},
                   {"source", OrNull(r, "source")},
                   {"schedule", OrNull(r, "schedule")},  {"zone", FieldText(r, "zone")},
                   {"next", OrNull(r, "next")},          {"state", FieldText(r, "state")},
                   {"last", OrNull(r, "last")},          {"last_start", OrNull(r, "last_start")},
                   {"last_error", OrNull(r, "last_error")}, {"last_good", OrNull(r, "last_good")},
                   {"last_good_snapshot", OrNull(r, "last_good_snapshot")},
                   {"last_good_age_seconds", NumberOrNull(r, "last_good_age")}});
  }
  if (c.json) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("%-24s %-8s %-16s %-20s %-8s %-10s %s\n", "job", "kind", "schedule", "next", "state", "last",
              "last good");
  for (const json& j : out) {
    auto text = [](const json& v) { return v.is_null() ? std::string("-") : v.get<std::string>(); };
    const json& age = j["last_good_age_seconds"];
    const std::string good =
        age.is_null() ? "-" : text(j["last_good"]) + " (" + FormatSeconds(age.get<uint64_t>()) + " ago)";
    std::printf("%-24s %-8s %-16s %-20s %-8s %-10s %s\n", text(j["name"]).c_str(), text(j["kind"]).c_str(),
                text(j["schedule"]).c_str(), text(j["next"]).c_str(), text(j["state"]).c_str(),
                text(j["last"]).c_str(), good.c_str());
    if (!j["last_error"].is_null() && j["last"] != "ok") std::printf("    %s\n", text(j["last_error"]).c_str());
  }
  return 0;
}

int RemoteJobHistory(const Common& c, const Remote& remote, const std::string& name, uint32_t limit) {
  std::vector<server::Reply> lines;
  (void)Exchange(remote, "HISTORY " + Arg(name) + " limit=" + std::to_string(limit), &lines);
  json out = json::array();
  for (const server::Reply& r : lines) {
    if (r.kind != "RUN") continue;
    out.push_back({{"job", FieldText(r, "job")},
                   {"attempt", FieldNumber(r, "attempt")},
                   {"trigger", FieldText(r, "trigger")},
                   {"result", FieldText(r, "result")},
                   {"scheduled", OrNull(r, "scheduled")},
                   {"start", OrNull(r, "start")},
                   {"end", OrNull(r, "end")},
                   {"exit_status", NumberOrNull(r, "exit")},
                   {"bytes_in", FieldNumber(r, "bytes_in")},
                   {"bytes_stored", FieldNumber(r, "bytes_stored")},
                   {"snapshot", OrNull(r, "snapshot")},
                   {"error", OrNull(r, "error")},
                   {"stderr", OrNull(r, "stderr")}});
  }
  if (c.json) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  for (const json& j : out) {
    auto text = [](const json& v) { return v.is_null() ? std::string("-") : v.get<std::string>(); };
    std::printf("%s  attempt %llu (%s)  %-11s %s in  %s stored  snapshot %s\n", text(j["start"]).c_str(),
                static_cast<unsigned long long>(j["attempt"].get<uint64_t>()), text(j["trigger"]).c_str(),
                text(j["result"]).c_str(), Human(j["bytes_in"].get<uint64_t>()).c_str(),
                Human(j["bytes_stored"].get<uint64_t>()).c_str(), text(j["snapshot"]).c_str());
    if (!j["error"].is_null()) std::printf("    %s\n", text(j["error"]).c_str());
  }
  return 0;
}

int RemoteRunJob(const Common& c, const Remote& remote, const std::string& name, const std::string& snapshot,
                 bool wait) {
  std::vector<server::Reply> lines;
  std::string line = "RUN " + Arg(name);
  if (!snapshot.empty()) line += " snapshot=" + Arg(snapshot);
  if (wait) line += " wait=true";
  const server::Reply ok = Exchange(remote, line, &lines);
  if (!wait) {
    std::printf("started %s\n", FieldText(ok, "started").c_str());
    return 0;
  }
  // The run's record; a run that did not end ok fails the command, with its error and stderr.
  for (const server::Reply& r : lines) {
    if (r.kind != "RUN") continue;
    const std::string result = FieldText(r, "result");
    if (c.json) {
      std::cout << json{{"job", FieldText(r, "job")},       {"result", result},
                        {"attempt", FieldNumber(r, "attempt")}, {"snapshot", OrNull(r, "snapshot")},
                        {"exit_status", NumberOrNull(r, "exit")}, {"bytes", FieldNumber(r, "bytes_in")},
                        {"error", OrNull(r, "error")},     {"stderr", OrNull(r, "stderr")}}
                       .dump(2)
                << "\n";
    } else {
      std::printf("%s %s: snapshot %s, %s\n", name.c_str(), result.c_str(), FieldText(r, "snapshot").c_str(),
                  Human(FieldNumber(r, "bytes_in")).c_str());
    }
    if (result == "ok") return 0;
    std::fprintf(stderr, "bvtool: error: job %s %s: %s\n", name.c_str(), result.c_str(), FieldText(r, "error").c_str());
    const std::string err = FieldText(r, "stderr");
    if (!err.empty() && err != "-") std::fprintf(stderr, "%s%s", err.c_str(), err.back() == '\n' ? "" : "\n");
    return 1;
  }
  std::fprintf(stderr, "bvtool: error: bvd sent no record of the run\n");
  return 1;
}

int RemoteCancelJob(const Common&, const Remote& remote, const std::string& name) {
  std::vector<server::Reply> lines;
  const server::Reply ok = Exchange(remote, "CANCEL " + Arg(name), &lines);
  std::printf("cancelled %s\n", FieldText(ok, "cancelled").c_str());
  return 0;
}

}  // namespace bv::tool
