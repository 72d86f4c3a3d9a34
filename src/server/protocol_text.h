// The small pieces of protocol text that bvd and bvtool both speak (docs/protocol.md §3, §6, §7.1):
// error codes, decimal numbers, hex ids and hashes, one-line messages. One copy, so the server
// and its client cannot drift apart.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "format/snapshot_format.h"

namespace bv::server {

// The code of an ERR reply for a failure (§3): "not-found", "corrupt", "bad-request", ...
const char* ErrorCodeName(const Status& s);
// What a client makes of an ERR reply: a Status whose code is the one `code` names, with
// `message`. Codes a client cannot act on ("io", "not-supported", ones it does not know) become
// IOError; "auth" becomes InvalidArgument, "shutting-down" Busy.
Status StatusFromErrorCode(std::string_view code, std::string message);

// A message as one line of text: newlines become spaces, so it never breaks the line framing.
std::string OneLine(std::string s);

// At most 19 digits: every such number fits in 64 bits, so there is no overflow to check.
inline constexpr size_t kDecimalDigitsMax = 19;
// A decimal number: 1 to kDecimalDigitsMax digits and nothing else (no sign, no space); leading
// zeros are allowed. nullopt for anything else.
std::optional<uint64_t> ParseDecimal(std::string_view s);

// The value of a hex digit, either case; -1 for any other character.
int HexDigitValue(char c);

// A stream hash as it travels (§7.1 hash=): 32 lower-case hex digits.
using StreamHash = std::array<uint8_t, format::kStreamHashSize>;
std::string HashHex(const StreamHash& h);
// Exactly 32 hex digits, either case (as libsodium's decoder reads them).
std::optional<StreamHash> ParseHashHex(std::string_view hex);

// A session id (§6): the snapshot id it will commit as, 16 lower-case hex digits
// (format::SnapshotIdHex writes it), never zero.
inline constexpr size_t kSessionIdDigits = 16;
std::optional<uint64_t> ParseSessionId(std::string_view s);

}  // namespace bv::server
