#include "format/name_rules.h"

#include <cstdio>
#include <optional>
#include <string>

#include "format/utf8.h"

namespace bv::format {

namespace {

struct Range {
  uint32_t first, last;
};

// Unicode 15 category Cf, Zl, Zp, Zs other than U+0020, and the Hangul and Braille fillers,
// the combining grapheme joiner and the variation selectors (which change nothing visible).
constexpr Range kHidden[] = {
    {0x00a0, 0x00a0},   {0x00ad, 0x00ad},   {0x034f, 0x034f},   {0x0600, 0x0605},   {0x061c, 0x061c},
    {0x06dd, 0x06dd},   {0x070f, 0x070f},   {0x0890, 0x0891},   {0x08e2, 0x08e2},   {0x115f, 0x1160},
    {0x1680, 0x1680},   {0x17b4, 0x17b5},   {0x180b, 0x180f},   {0x2000, 0x200f},   {0x2028, 0x202f},
    {0x205f, 0x2064},   {0x2066, 0x206f},   {0x2800, 0x2800},   {0x3000, 0x3000},   {0x3164, 0x3164},
    {0xfe00, 0xfe0f},   {0xfeff, 0xfeff},   {0xffa0, 0xffa0},   {0xfff9, 0xfffb},   {0x110bd, 0x110bd},
    {0x110cd, 0x110cd}, {0x13430, 0x1343f}, {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a}, {0xe0001, 0xe0001},
    {0xe0020, 0xe007f}, {0xe0100, 0xe01ef},
};

}  // namespace

bool IsHiddenCodePoint(uint32_t cp) {
  for (const Range& r : kHidden) {
    if (cp >= r.first && cp <= r.last) return true;
  }
  return false;
}

Status ValidateNewName(std::string_view name, const char* what) {
  if (!name.empty() && (name.front() == ' ' || name.back() == ' ')) {
    return Status::InvalidArgument(std::string(what) + " starts or ends with a space, which no one sees");
  }
  for (size_t i = 0; i < name.size();) {
    const size_t at = i;
    const std::optional<uint32_t> cp = DecodeUtf8(name, &i);
    if (!cp) return Status::InvalidArgument(std::string(what) + " is not valid UTF-8 at byte " + std::to_string(at));
    if (IsHiddenCodePoint(*cp)) {
      char u[16];
      std::snprintf(u, sizeof u, "U+%04X", static_cast<unsigned>(*cp));
      return Status::InvalidArgument(std::string(what) + " holds the invisible or direction-changing character " + u +
                                     " at byte " + std::to_string(at));
    }
  }
  return Status::Ok();
}

Status ValidateNewSourceName(std::string_view name) {
  BV_RETURN_IF_ERROR(ValidateNewName(name, "source name"));
  if (name.substr(0, kIdPrefix.size()) == kIdPrefix) {
    return Status::InvalidArgument("source name starts with \"id:\", which names a snapshot id");
  }
  return Status::Ok();
}

}  // namespace bv::format
