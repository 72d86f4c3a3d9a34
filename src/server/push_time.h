// The time a push may give its snapshot (docs/protocol.md §5). A snapshot's time decides what
// SOURCE and SOURCE@TIME restore, so a token that may only add snapshots must not choose it freely:
// it could make its snapshot the answer to every later lookup, or slip one in under snapshots that
// exist. An admin token may give any time (an import of old dumps).
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "engine/index.h"
#include "server/token.h"

namespace bv::server {

// How far from the server's clock a push token's time may be: clocks of hosts disagree.
inline constexpr int64_t kPushTimeAheadMaxUs = 300LL * 1000000;

// For a push token: `time_us` within kPushTimeAheadMaxUs of now either way (clock skew), and no
// earlier than the newest snapshot of `source`. Denied otherwise, with the bound in the message.
Status CheckPushTime(Role role, engine::Index* index, const std::string& source, int64_t time_us, int64_t now_us);

}  // namespace bv::server
