// One UTF-8 decoder for the format layer's name rules (snapshot_format.cc, name_rules.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace bv::format {

// The code point that starts at s[*i], with *i moved past it; nullopt, *i unchanged, for bytes that
// are not the shortest encoding of a Unicode scalar value (a cut sequence, a stray continuation
// byte, an overlong form, a surrogate, anything above U+10FFFF).
inline std::optional<uint32_t> DecodeUtf8(std::string_view s, size_t* i) {
  const auto c = static_cast<uint8_t>(s[*i]);
  if (c < 0x80) {
    ++*i;
    return c;
  }
  size_t n;
  uint32_t cp;
  if ((c & 0xe0) == 0xc0) {
    n = 1;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 2;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 3;
    cp = c & 0x07;
  } else {
    return std::nullopt;
  }
  if (*i + n >= s.size()) return std::nullopt;  // the sequence runs past the end
  for (size_t k = 1; k <= n; k++) {
    const auto cc = static_cast<uint8_t>(s[*i + k]);
    if ((cc & 0xc0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (cc & 0x3f);
  }
  static constexpr uint32_t kMin[4] = {0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return std::nullopt;
  *i += n + 1;
  return cp;
}

}  // namespace bv::format
