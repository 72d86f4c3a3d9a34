#include "server/token.h"

#include <sodium.h>

namespace bv::server {

namespace {

constexpr char kTokenPrefix[] = "bvt_";
constexpr char kHashPrefix[] = "blake2b:";
constexpr size_t kTokenBytes = 32;
constexpr size_t kHashHex = 64;

}  // namespace

Result<Role> ParseRole(std::string_view s) {
  if (s == "push") return Role::kPush;
  if (s == "read") return Role::kRead;
  if (s == "admin") return Role::kAdmin;
  return Status::InvalidArgument("role must be push, read or admin, not \"" + std::string(s) + "\"");
}

const char* RoleName(Role r) {
  switch (r) {
    case Role::kPush: return "push";
    case Role::kRead: return "read";
    case Role::kAdmin: return "admin";
  }
  return "?";
}

bool RoleMayPush(Role r) { return r == Role::kPush || r == Role::kAdmin; }
bool RoleMayRead(Role r) { return r == Role::kRead || r == Role::kAdmin; }
bool RoleMayDelete(Role r) { return r == Role::kAdmin; }

std::string NewToken() {
  BV_ASSERT(sodium_init() >= 0);
  uint8_t raw[kTokenBytes];
  randombytes_buf(raw, sizeof raw);
  char b64[sodium_base64_ENCODED_LEN(kTokenBytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof raw);
  return std::string(kTokenPrefix) + b64;
}

std::string TokenHash(std::string_view token) {
  BV_ASSERT(sodium_init() >= 0);
  uint8_t h[32];
  crypto_generichash(h, sizeof h, reinterpret_cast<const uint8_t*>(token.data()), token.size(), nullptr, 0);
  char hex[kHashHex + 1];
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  return std::string(kHashPrefix) + hex;
}

Status ValidateTokenHash(std::string_view hash) {
  const size_t p = sizeof kHashPrefix - 1;
  if (hash.size() != p + kHashHex || hash.substr(0, p) != kHashPrefix) {
    return Status::InvalidArgument("a token hash is \"blake2b:\" and 64 hex digits (from `bvtool token`)");
  }
  for (char c : hash.substr(p)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return Status::InvalidArgument("a token hash has lower-case hex digits after \"blake2b:\"");
    }
  }
  return Status::Ok();
}

bool TokenMatches(std::string_view token, std::string_view hash) {
  const std::string mine = TokenHash(token);
  if (mine.size() != hash.size()) return false;
  return sodium_memcmp(mine.data(), hash.data(), mine.size()) == 0;
}

}  // namespace bv::server
