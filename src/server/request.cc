#include "server/request.h"

#include "format/utf8.h"
#include "server/protocol_text.h"

namespace bv::server {

namespace {

Status Bad(size_t at, const std::string& what) {
  return Status::InvalidArgument("byte " + std::to_string(at) + ": " + what);
}

Status CheckText(std::string_view s, size_t base) {
  for (size_t i = 0; i < s.size();) {
    const uint8_t c = static_cast<uint8_t>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      return Bad(base + i, std::string("control character 0x") + kHex[c >> 4] + kHex[c & 15]);
    }
    if (!format::DecodeUtf8(s, &i)) return Bad(base + i, "invalid UTF-8");
  }
  return Status::Ok();
}

// %XX escapes let a value hold spaces, '=' and '%'; what they spell is checked like the line when
// `text` (requests), and may be any bytes in a reply (a job's standard error).
Result<std::string> Unescape(std::string_view tok, size_t at, bool text = true) {
  std::string out;
  out.reserve(tok.size());
  for (size_t i = 0; i < tok.size(); i++) {
    if (tok[i] != '%') {
      out += tok[i];
      continue;
    }
    if (i + 2 >= tok.size()) return Bad(at + i, "'%' is not followed by two hex digits");
    const int hi = HexDigitValue(tok[i + 1]), lo = HexDigitValue(tok[i + 2]);
    if (hi < 0 || lo < 0) return Bad(at + i, "'%' is not followed by two hex digits");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  if (text) BV_RETURN_IF_ERROR(CheckText(out, at));
  return out;
}

bool IsKeyChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

}  // namespace

const std::string* Request::Option(std::string_view key) const {
  for (const auto& [k, v] : options) {
    if (k == key) return &v;
  }
  return nullptr;
}

Result<Request> ParseRequest(std::string_view line) {
  if (line.size() + 1 > kLineMax) {
    return Status::InvalidArgument("request line is longer than " + std::to_string(kLineMax) + " bytes");
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  BV_RETURN_IF_ERROR(CheckText(line, 0));
  Request r;
  size_t i = 0;
  while (i < line.size()) {
    if (line[i] == ' ') {
      i++;
      continue;
    }
    const size_t start = i;
    while (i < line.size() && line[i] != ' ') i++;
    const std::string_view tok = line.substr(start, i - start);
    if (r.verb.empty()) {
      if (tok.size() > kVerbMax) return Bad(start, "verb is longer than " + std::to_string(kVerbMax) + " bytes");
      for (size_t k = 0; k < tok.size(); k++) {
        if (tok[k] < 'A' || tok[k] > 'Z') return Bad(start + k, "a verb is upper-case letters only");
      }
      r.verb = tok;
      continue;
    }
    const size_t eq = tok.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      if (!r.options.empty()) return Bad(start, "positional argument after an option");
      if (r.args.size() == kArgsMax) return Bad(start, "more than " + std::to_string(kArgsMax) + " arguments");
      BV_ASSIGN_OR_RETURN(std::string arg, Unescape(tok, start));
      r.args.push_back(std::move(arg));
      continue;
    }
    const std::string_view key = tok.substr(0, eq);
    if (key.size() > kOptionKeyMax) return Bad(start, "option name is longer than " + std::to_string(kOptionKeyMax));
    for (size_t k = 0; k < key.size(); k++) {
      if (!IsKeyChar(key[k])) return Bad(start + k, "an option name is a-z, 0-9 and _ only");
    }
    if (r.Option(key) != nullptr) return Bad(start, "option " + std::string(key) + " given twice");
    if (r.options.size() == kOptionsMax) return Bad(start, "more than " + std::to_string(kOptionsMax) + " options");
    BV_ASSIGN_OR_RETURN(std::string value, Unescape(tok.substr(eq + 1), start + eq + 1));
    r.options.emplace_back(std::string(key), std::move(value));
  }
  if (r.verb.empty()) return Status::InvalidArgument("empty request line");
  return r;
}

const std::string* Reply::Field(std::string_view key) const {
  for (const auto& [k, v] : fields) {
    if (k == key) return &v;
  }
  return nullptr;
}

Result<Reply> ParseReply(std::string_view line) {
  Reply r;
  const size_t sp = line.find(' ');
  r.kind = line.substr(0, sp);
  if (r.kind == "ERR") {
    const std::string_view rest = sp == std::string_view::npos ? "" : line.substr(sp + 1);
    const size_t sp2 = rest.find(' ');
    r.error_code = rest.substr(0, sp2);
    r.error_message = sp2 == std::string_view::npos ? "" : rest.substr(sp2 + 1);
    return r;
  }
  if (r.kind != "OK" && r.kind != "SNAPSHOT" && r.kind != "STREAM" && r.kind != "BLOCK" && r.kind != "DECISION" &&
      r.kind != "SEGMENT" && r.kind != "SOURCE" && r.kind != "NOTE" && r.kind != "JOB" && r.kind != "RUN") {
    return Status::Corruption("the server sent an unexpected line: " + std::string(line.substr(0, 200)));
  }
  size_t i = sp == std::string_view::npos ? line.size() : sp + 1;
  while (i < line.size()) {
    size_t end = line.find(' ', i);
    if (end == std::string_view::npos) end = line.size();
    const std::string_view tok = line.substr(i, end - i);
    const size_t eq = tok.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return Status::Corruption("the server sent a reply field without '=': " + std::string(tok.substr(0, 100)));
    }
    BV_ASSIGN_OR_RETURN(std::string value, Unescape(tok.substr(eq + 1), i + eq + 1, /*text=*/false));
    r.fields.emplace_back(std::string(tok.substr(0, eq)), std::move(value));
    i = end + 1;
  }
  return r;
}

std::string EscapeValue(std::string_view v) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(v.size());
  for (char ch : v) {
    const auto c = static_cast<uint8_t>(ch);
    if (c <= 0x20 || c >= 0x7f || c == '%' || c == '=') {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace bv::server
