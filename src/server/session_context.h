// What the handlers of one session's verbs share: the connection, and the tenant and role its
// AUTH established, with the checks and replies every verb makes. session.cc reads the requests
// and calls the handlers of session_verbs.h.
#pragma once

#include <spdlog/common.h>

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>

#include "engine/index.h"
#include "format/snapshot_format.h"
#include "server/connection.h"
#include "server/memory_budget.h"
#include "server/request.h"
#include "server/tenant.h"
#include "server/token.h"

namespace bv::server {

class Server;

// Every handler returns false when the session ends (the connection closes).
struct SessionContext {
  SessionContext(Server* s, io::Socket* socket) : server(s), conn(s, socket) {}

  // A log line naming the peer and the tenant.
  void Log(spdlog::level::level_enum level, const std::string& what) const;
  // Whether `r` has min..max arguments and no option outside `options`; if not, the usage error
  // has been replied and the session ends.
  bool Arity(const Request& r, size_t min, size_t max, std::initializer_list<const char*> options, const char* usage);
  // Refuses what the session's role may not do; always false.
  bool Denied(const char* what);
  // A share of the server's memory budget, waited for within memory_wait_seconds; null once
  // ERR busy is replied.
  std::unique_ptr<MemoryBudget::Grant> DrawMemory(uint64_t bytes, MemoryBudget::Use use, const std::string& what);
  // The snapshot a request names, or nullopt once the error is replied.
  std::optional<engine::SnapshotEntry> Resolve(const std::string& ref);

  Server* server;
  Connection conn;
  std::shared_ptr<Tenant> tenant;  // null until AUTH
  Role role = Role::kPush;
};

// A snapshot as the fields of an OK or SNAPSHOT reply (docs/protocol.md §5, §8).
std::string SnapshotFields(const format::SnapshotRecord& r);

}  // namespace bv::server
