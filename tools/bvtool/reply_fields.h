// bvd's reply fields as the remote commands use them, and request arguments as they send them.
// A reply that breaks the protocol ends the command (Fail).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "server/request.h"

namespace bv::tool {

// The decimal field `key`; a missing or bad one is bvd's corruption, and the command fails.
uint64_t FieldNumber(const server::Reply& r, const char* key);
// The field `key`, or "" when the reply has none.
std::string FieldText(const server::Reply& r, const char* key);
// The snapshot fields of an OK or SNAPSHOT reply (docs/protocol.md §5, §8), for --json.
nlohmann::json SnapshotReplyJson(const server::Reply& r);
// A request argument or option value, escaped (docs/protocol.md §2).
inline std::string Arg(const std::string& v) { return server::EscapeValue(v); }

}  // namespace bv::tool
