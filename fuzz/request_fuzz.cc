// libFuzzer target: ParseRequest, bvd's decoder of request lines from the network.
// Properties: never crashes; a line it accepts has a verb and at most the allowed arguments and
// options; and rendering each accepted value with EscapeValue then parsing again gives it back.
#include <cstdint>
#include <string>
#include <string_view>

#include "server/request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bv::server;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
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
