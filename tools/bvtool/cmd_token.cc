// bvtool token: a new tenant token and the hash that goes into bvd's configuration.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "server/token.h"
#include "tools/bvtool/commands.h"

namespace bv::tool {

int CmdToken(bool json, const std::string& role) {
  auto r = server::ParseRole(role);
  if (!r.ok()) Fail(r.status());
  const std::string token = server::NewToken();
  const std::string hash = server::TokenHash(token);
  if (json) {
    std::printf("%s\n", nlohmann::json{{"token", token}, {"hash", hash}, {"role", role}}.dump().c_str());
    return 0;
  }
  std::printf("token: %s\n", token.c_str());
  std::printf("give the token to the client (for example in a file of mode 0600), and put this in bvd's\n"
              "configuration under the tenant:\n");
  std::printf("  tokens = [ { hash = \"%s\", role = \"%s\" } ]\n", hash.c_str(), role.c_str());
  return 0;
}

}  // namespace bv::tool
