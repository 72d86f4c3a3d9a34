// Tenant tokens: 32 random bytes shown as "bvt_" + base64url. The server keeps only a hash of
// each ("blake2b:" + 64 hex digits); a presented token is hashed and compared in constant time.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace bv::server {

enum class Role { kPush, kRead, kAdmin };

// "push" (may only add snapshots), "read" (list, restore, verify), "admin" (everything).
Result<Role> ParseRole(std::string_view s);
const char* RoleName(Role r);
bool RoleMayPush(Role r);
bool RoleMayRead(Role r);
bool RoleMayDelete(Role r);

std::string NewToken();
std::string TokenHash(std::string_view token);
// Checks the form of a configured hash.
Status ValidateTokenHash(std::string_view hash);
// Constant time in the token's contents.
bool TokenMatches(std::string_view token, std::string_view hash);

}  // namespace bv::server
