#include "base/duration.h"

#include <array>
#include <utility>

namespace bv {

namespace {

constexpr std::array<std::pair<char, uint64_t>, 5> kUnits = {{{'w', 7 * 86400}, {'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}}};

}  // namespace

Result<uint64_t> ParseSeconds(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("duration \"" + std::string(text) + "\": " + why +
                                   " (write it as 90s, 10m, 2h30m, 1d or 2w)");
  };
  if (text.empty()) return bad("is empty");
  uint64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    uint64_t n = 0;
    const size_t digits = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      n = n * 10 + static_cast<uint64_t>(text[i] - '0');
      if (n > kDurationSecondsMax) return bad("is longer than ten years");
      i++;
    }
    if (i == digits) return bad("'" + std::string(1, text[i]) + "' where a number belongs");
    uint64_t unit = 0;
    if (i == text.size()) {
      if (digits != 0) return bad("the last number has no unit");
      unit = 1;  // a bare number of seconds
    } else {
      for (const auto& [c, s] : kUnits) {
        if (text[i] == c) unit = s;
      }
      if (unit == 0) return bad("'" + std::string(1, text[i]) + "' is not a unit");
      i++;
    }
    if (n > kDurationSecondsMax / unit || total + n * unit > kDurationSecondsMax) return bad("is longer than ten years");
    total += n * unit;
  }
  return total;
}

std::string FormatSeconds(uint64_t seconds) {
  if (seconds == 0) return "0s";
  std::string out;
  for (const auto& [c, s] : kUnits) {
    if (c == 'w') continue;  // days read more easily than weeks and days
    if (seconds >= s) {
      out += std::to_string(seconds / s) + c;
      seconds %= s;
    }
  }
  return out;
}

}  // namespace bv
