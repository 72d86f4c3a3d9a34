// One request line of the line protocol (docs/protocol.md §2): a verb, positional arguments and
// key=value options, separated by spaces; %XX in an argument or value stands for that byte. Bytes from the network: every rule is checked and a
// violation says what and at which byte.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace bv::server {

inline constexpr size_t kLineMax = 4096;     // bytes in a request line, newline included
inline constexpr size_t kVerbMax = 16;
inline constexpr size_t kArgsMax = 4;        // positional arguments
inline constexpr size_t kOptionsMax = 16;
inline constexpr size_t kOptionKeyMax = 32;

struct Request {
  std::string verb;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> options;

  // The value of option `key`, or null.
  const std::string* Option(std::string_view key) const;
};

// Parses one line, without its "\n" (a "\r" before it is allowed and dropped).
Result<Request> ParseRequest(std::string_view line);

// A reply line (docs/protocol.md §3): its kind ("OK", "SNAPSHOT", "STREAM" or "ERR") and fields;
// for ERR, the code and the message.
struct Reply {
  std::string kind;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string error_code, error_message;
  const std::string* Field(std::string_view key) const;
};
Result<Reply> ParseReply(std::string_view line);

// Renders a value for a reply line: bytes outside printable ASCII, spaces, '%' and '=' become
// %XX, so every reply field is one space-free token.
std::string EscapeValue(std::string_view v);

}  // namespace bv::server
