// libFuzzer target: ParseRequest, bvd's decoder of request lines from the network, and
// ParseReply, bvtool's decoder of bvd's reply lines (BLOCK lines of a raw-block restore among them),
// and the protocol text both read inside them (decimal numbers, hashes, session ids).
// Properties: never crashes; a line it accepts has a verb and at most the allowed arguments and
// options; and rendering each accepted value with EscapeValue (a number, hash or id with its own
// writer) then parsing again gives it back.
#include <cstdint>
#include <string>
#include <string_view>

#include "server/protocol_text.h"
#include "server/request.h"

namespace {

void CheckReply(std::string_view line) {
  using namespace bv::server;
  auto r = ParseReply(line);
  if (!r.ok() || r->kind == "ERR") return;
  std::string again = r->kind;
  for (const auto& [k, v] : r->fields) {
    if (k.find(' ') != std::string::npos || k.find('=') != std::string::npos) return;
    again += " " + k + "=" + EscapeValue(v);
  }
  auto back = ParseReply(again);
  BV_ASSERT(back.ok());
  BV_ASSERT(back->kind == r->kind && back->fields == r->fields);
}

// The bytes as a number, a hash and a session id: each accepted value written again reads back.
void CheckProtocolText(std::string_view text) {
  using namespace bv::server;
  if (auto n = ParseDecimal(text)) BV_ASSERT(ParseDecimal(std::to_string(*n)) == n);
  if (auto h = ParseHashHex(text)) BV_ASSERT(ParseHashHex(HashHex(*h)) == h);
  if (auto id = ParseSessionId(text)) BV_ASSERT(*id != 0 && ParseSessionId(bv::format::SnapshotIdHex(*id)) == id);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bv::server;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  CheckReply(line);
  CheckProtocolText(line);
  auto r = ParseRequest(line);
  if (!r.ok()) return 0;
  BV_ASSERT(!r->verb.empty() && r->verb.size() <= kVerbMax);
  BV_ASSERT(r->args.size() <= kArgsMax && r->options.size() <= kOptionsMax);
  std::string again = r->verb;
  for (const std::string& a : r->args) {
    if (a.empty()) return 0;
    again += " " + EscapeValue(a);
  }
  for (const auto& [k, v] : r->options) again += " " + k + "=" + EscapeValue(v);
  if (again.size() + 1 > kLineMax) return 0;
  auto back = ParseRequest(again);
  BV_ASSERT(back.ok());
  BV_ASSERT(back->verb == r->verb && back->args == r->args && back->options == r->options);
  return 0;
}
