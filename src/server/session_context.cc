#include "server/session_context.h"

#include <spdlog/spdlog.h>

#include "base/time_format.h"
#include "engine/snapshot_ref.h"
#include "server/server.h"

namespace bv::server {

void SessionContext::Log(spdlog::level::level_enum level, const std::string& what) const {
  spdlog::log(level, "peer={} tenant={} {}", conn.peer(), tenant ? tenant->name() : "-", what);
}

bool SessionContext::Arity(const Request& r, size_t min, size_t max, std::initializer_list<const char*> options,
                           const char* usage) {
  bool ok = r.args.size() >= min && r.args.size() <= max;
  for (const auto& [k, v] : r.options) {
    bool known = false;
    for (const char* o : options) known = known || k == o;
    if (!known) return conn.LastReply("ERR bad-request " + r.verb + " takes no option " + k + "=; usage: " + usage);
  }
  if (!ok) return conn.LastReply(std::string("ERR bad-request usage: ") + usage);
  return true;
}

bool SessionContext::Denied(const char* what) {
  return conn.LastReply(std::string("ERR denied a ") + RoleName(role) + " token may not " + what);
}

std::unique_ptr<MemoryBudget::Grant> SessionContext::DrawMemory(uint64_t bytes, MemoryBudget::Use use,
                                                                const std::string& what) {
  const int wait_ms = static_cast<int>(server->settings().memory_wait_s) * 1000;
  auto g = server->memory()->Draw(bytes, use, tenant->name(), wait_ms, what);
  if (!g.ok()) {
    Log(spdlog::level::warn, what + " refused: " + g.status().message());
    (void)conn.ReplyError(g.status());
    return nullptr;
  }
  return std::move(g).value();
}

std::optional<engine::SnapshotEntry> SessionContext::Resolve(const std::string& ref) {
  auto e = engine::ResolveSnapshot(tenant->volume()->index(), ref);
  if (!e.ok()) {
    // Whether the session goes on is the caller's to say; a send that failed shows at the next read.
    (void)conn.ReplyError(e.status());
    return std::nullopt;
  }
  return std::move(e).value();
}

std::string SnapshotFields(const format::SnapshotRecord& r) {
  return "snapshot=" + format::SnapshotIdHex(r.id) + " source=" + EscapeValue(r.source) +
         " time=" + FormatTime(r.time_us) + " label=" + EscapeValue(r.label) +
         " streams=" + std::to_string(r.streams.size()) + " logical=" + std::to_string(r.logical_bytes()) +
         " stored=" + std::to_string(r.stored_bytes) + " new=" + std::to_string(r.new_bytes);
}

}  // namespace bv::server
