#include "server/protocol_text.h"

namespace bv::server {

namespace {

using StatusMaker = Status (*)(std::string);

// The codes a client tells apart; any other becomes IOError.
struct KnownCode {
  std::string_view code;
  StatusMaker make;
};
constexpr KnownCode kKnownCodes[] = {
    {"not-found", &Status::NotFound},      {"corrupt", &Status::Corruption},
    {"busy", &Status::Busy},               {"shutting-down", &Status::Busy},
    {"no-space", &Status::NoSpace},        {"quota", &Status::Quota},
    {"timeout", &Status::TimedOut},        {"bad-request", &Status::InvalidArgument},
    {"denied", &Status::Denied},          {"auth", &Status::InvalidArgument},
};

}  // namespace

const char* ErrorCodeName(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk: return "ok";
    case Status::Code::kNotFound: return "not-found";
    case Status::Code::kCorruption: return "corrupt";
    case Status::Code::kInvalidArgument: return "bad-request";
    case Status::Code::kIOError: return "io";
    case Status::Code::kNotSupported: return "not-supported";
    case Status::Code::kBusy: return "busy";
    case Status::Code::kNoSpace: return "no-space";
    case Status::Code::kQuota: return "quota";
    case Status::Code::kTimedOut: return "timeout";
    case Status::Code::kDenied: return "denied";
  }
  return "internal";
}

Status StatusFromErrorCode(std::string_view code, std::string message) {
  for (const KnownCode& k : kKnownCodes) {
    if (k.code == code) return k.make(std::move(message));
  }
  return Status::IOError(std::move(message));
}

std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

std::optional<uint64_t> ParseDecimal(std::string_view s) {
  if (s.empty() || s.size() > kDecimalDigitsMax) return std::nullopt;
  uint64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string HashHex(const StreamHash& h) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * h.size());
  for (uint8_t b : h) {
    hex += kDigits[b >> 4];
    hex += kDigits[b & 15];
  }
  return hex;
}

std::optional<StreamHash> ParseHashHex(std::string_view hex) {
  StreamHash h{};
  if (hex.size() != 2 * h.size()) return std::nullopt;
  for (size_t i = 0; i < h.size(); i++) {
    const int hi = HexDigitValue(hex[2 * i]), lo = HexDigitValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    h[i] = static_cast<uint8_t>((hi << 4) | lo);
  }
  return h;
}

std::optional<uint64_t> ParseSessionId(std::string_view s) {
  if (s.size() != kSessionIdDigits) return std::nullopt;
  uint64_t id = 0;
  for (char c : s) {
    const bool upper = c >= 'A' && c <= 'F';  // ids are written lower-case only
    const int d = HexDigitValue(c);
    if (d < 0 || upper) return std::nullopt;
    id = (id << 4) | static_cast<uint64_t>(d);
  }
  if (id == 0) return std::nullopt;
  return id;
}

}  // namespace bv::server
