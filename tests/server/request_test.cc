// The request-line parser (docs/protocol.md §2) and the configuration file (§9): what is
// accepted, what is refused, and that refusals name the byte, line and field.
#include <gtest/gtest.h>

#include "server/config.h"
#include "server/request.h"
#include "server/token.h"
#include "tests/test_util.h"

namespace bv::server {
namespace {

TEST(Request, ParsesVerbArgumentsAndOptions) {
  ASSERT_OK_AND_ASSIGN(Request r, ParseRequest("PUT  pg/orders label=night%201 size=10\r"));
  EXPECT_EQ(r.verb, "PUT");
  EXPECT_EQ(r.args, std::vector<std::string>{"pg/orders"});
  ASSERT_NE(r.Option("label"), nullptr);
  EXPECT_EQ(*r.Option("label"), "night 1");
  EXPECT_EQ(*r.Option("size"), "10");
  EXPECT_EQ(r.Option("time"), nullptr);
  ASSERT_OK_AND_ASSIGN(Request u, ParseRequest("GET caf\xc3\xa9%3Dx"));
  EXPECT_EQ(u.args[0], "caf\xc3\xa9=x");
}

TEST(Request, RefusesWhatTheProtocolForbidsAndSaysWhere) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "empty request line"},
      {"   ", "empty request line"},
      {"get x", "byte 0: a verb is upper-case letters only"},
      {"PUT a\tb", "byte 5: control character 0x09"},
      {"PUT a\x7f", "byte 5: control character 0x7f"},
      {"PUT \xc3(", "byte 4: invalid UTF-8"},
      {"PUT \xe0\x80\x80", "byte 4: invalid UTF-8"},      // overlong
      {"PUT \xed\xa0\x80", "byte 4: invalid UTF-8"},      // a surrogate
      {"PUT \xf4\x90\x80\x80", "byte 4: invalid UTF-8"},  // beyond U+10FFFF
      {"PUT a%0Ab", "byte 5: control character 0x0a"},
      {"PUT a%4", "byte 5: '%' is not followed by two hex digits"},
      {"PUT a%zz", "byte 5: '%' is not followed by two hex digits"},
      {"PUT a x=1 b", "byte 10: positional argument after an option"},
      {"PUT a b c d e", "byte 12: more than 4 arguments"},
      {"PUT a X=1", "byte 6: an option name is a-z, 0-9 and _ only"},
      {"PUT a x=1 x=2", "byte 10: option x given twice"},
      {"ABCDEFGHIJKLMNOPQ", "byte 0: verb is longer than 16 bytes"},
      {std::string(kLineMax, 'A'), "longer than 4096 bytes"},
  };
  for (const auto& [line, want] : cases) {
    auto r = ParseRequest(line);
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_NE(r.status().message().find(want), std::string::npos) << line << " -> " << r.status().message();
  }
}

TEST(Request, EscapedValuesParseBack) {
  const std::string nasty = "a b=c%d\xc3\xa9";
  ASSERT_OK_AND_ASSIGN(Request r, ParseRequest("LIST " + EscapeValue(nasty) + " since=" + EscapeValue(nasty)));
  EXPECT_EQ(r.args[0], nasty);
  EXPECT_EQ(*r.Option("since"), nasty);
}

TEST(Token, HashesMatchOnlyTheirToken) {
  const std::string t = NewToken(), u = NewToken();
  EXPECT_EQ(t.rfind("bvt_", 0), 0u);
  EXPECT_EQ(t.size(), 4u + 43u);
  EXPECT_NE(t, u);
  const std::string h = TokenHash(t);
  ASSERT_OK(ValidateTokenHash(h));
  EXPECT_TRUE(TokenMatches(t, h));
  EXPECT_FALSE(TokenMatches(u, h));
  EXPECT_FALSE(TokenMatches(t.substr(0, t.size() - 1), h));
  // Pinned: the hash of a token is BLAKE2b-256 of its text, forever (configurations hold it).
  EXPECT_EQ(TokenHash("bvt_example"), "blake2b:a8a23fce88713fbc995c9b3b4c8e275e0885f0a09a4bbdc782367920566cd594");
}

TEST(Config, ParsesEveryField) {
  const std::string h = TokenHash("bvt_x");
  ASSERT_OK_AND_ASSIGN(ServerConfig c, ParseConfig(R"(
data_dir = "/var/lib/bv"
key_file = "/etc/bv/master.key"
listen = ["127.0.0.1:7780", "unix:/run/bv.sock"]
grace_seconds = 5
max_connections = 10
login_timeout_seconds = 3
auth_failure_delay_ms = 0
max_unauthenticated = 4
auth_failures_per_minute = 2
auth_failure_burst = 3
auth_failures_per_minute_global = 20
auth_failure_burst_global = 30
push_min_bytes_per_second = 0
push_rate_window_seconds = 60
memory_budget_mib = 512
memory_wait_seconds = 0

[[tenant]]
name = "shop"
quota_bytes = 1000
max_sessions = 4
zstd_level = 6
idle_timeout_seconds = 60
append_only = true
retention = { keep_daily = 7, keep_within_weekly = "2m", min_keep = 2 }
tokens = [ { hash = ")" + h + R"(", role = "push" }, { hash = ")" + h + R"(" } ]
[[tenant.source]]
name = "pg/orders"
retention = { keep_last = 3 }
)", "bvd.toml"));
  EXPECT_EQ(c.data_dir, "/var/lib/bv");
  EXPECT_EQ(c.listen.size(), 2u);
  EXPECT_EQ(c.grace_s, 5u);
  EXPECT_EQ(c.auth_failure_delay_ms, 0u);
  EXPECT_EQ(c.max_unauthenticated, 4u);
  EXPECT_EQ(c.auth_failures_per_minute, 2u);
  EXPECT_EQ(c.auth_failure_burst, 3u);
  EXPECT_EQ(c.auth_failures_per_minute_global, 20u);
  EXPECT_EQ(c.auth_failure_burst_global, 30u);
  EXPECT_EQ(c.push_min_bytes_per_second, 0u);
  EXPECT_EQ(c.push_rate_window_s, 60u);
  EXPECT_EQ(c.memory_budget_mib, 512u);
  EXPECT_EQ(c.memory_wait_s, 0u);
  ASSERT_EQ(c.tenants.size(), 1u);
  const TenantConfig& t = c.tenants[0];
  EXPECT_EQ(t.name, "shop");
  EXPECT_EQ(t.quota_bytes, 1000u);
  EXPECT_EQ(t.max_sessions, 4u);
  EXPECT_EQ(t.zstd_level, 6);
  EXPECT_EQ(t.idle_timeout_s, 60u);
  EXPECT_TRUE(t.append_only);
  ASSERT_EQ(t.tokens.size(), 2u);
  EXPECT_EQ(t.tokens[0].role, Role::kPush);
  EXPECT_EQ(t.tokens[1].role, Role::kAdmin);
  ASSERT_TRUE(t.retention.has_value());
  EXPECT_EQ(t.retention->daily, 7);
  EXPECT_EQ(t.retention->within_weekly.months, 2);
  EXPECT_EQ(t.retention->min_keep, 2);
  ASSERT_NE(t.RetentionFor("pg/orders"), nullptr);
  EXPECT_EQ(t.RetentionFor("pg/orders")->last, 3);
  EXPECT_EQ(t.RetentionFor("pg/orders")->daily, 0);  // a source's policy replaces the default
  EXPECT_EQ(t.RetentionFor("pg/other"), &*t.retention);
}

TEST(Config, RefusalsNameTheLineAndField) {
  const std::string h = "\"" + TokenHash("bvt_x") + "\"";
  const std::pair<std::string, std::string> cases[] = {
      {"grace_seconds = \"5\"\n", "bvd.toml:1:17: grace_seconds: must be an integer"},
      {"\n\nmax_connections = 0\n", "bvd.toml:3:19: max_connections: must be between 1 and 65536"},
      {"listen = \"x\"\n", "bvd.toml:1:10: listen: must be an array"},
      {"memory_budget_mib = 8\n", "bvd.toml:1:21: memory_budget_mib: must be between 64 and 1048576"},
      {"colour = 1\n", "bvd.toml:1:10: colour: unknown field"},
      {"[[tenant]]\nname = \"Shop\"\ntokens = [{hash=" + h + "}]\n", "bvd.toml:2:8: tenant[0].name: a tenant name"},
      {"[[tenant]]\nname = \"a\"\n", "tenant[0].tokens: must be a non-empty array"},
      {"[[tenant]]\nname = \"a\"\ntokens = [{hash=" + h + ", colour=1}]\n", "tenant[0].tokens[0].colour: unknown field"},
      {"[[tenant]]\nname = \"a\"\ntokens = [{hash=" + h + "}]\n[[tenant]]\nname = \"a\"\ntokens = [{hash=" + h + "}]\n",
       "bvd.toml:4:1: tenant[1].name: \"a\" is named twice"},
      {"[tenant\n", "bvd.toml:1:"},
      {"[[tenant]]\nname = \"a\"\nretention = { keep_daily = \"7\" }\ntokens = [{hash=" + h + "}]\n",
       "bvd.toml:3:28: tenant[0].retention.keep_daily: must be an integer"},
      {"[[tenant]]\nname = \"a\"\nretention = { keep_within = \"3q\" }\ntokens = [{hash=" + h + "}]\n",
       "tenant[0].retention.keep_within: within: duration '3q'"},
      {"[[tenant]]\nname = \"a\"\nretention = { keep_often = 1 }\ntokens = [{hash=" + h + "}]\n",
       "tenant[0].retention.keep_often: unknown field"},
      {"[[tenant]]\nname = \"a\"\nretention = { last = 2 }\ntokens = [{hash=" + h + "}]\n",
       "tenant[0].retention.last: unknown field"},
      {"[[tenant]]\nname = \"a\"\nretention = { keep_min_keep = 2, keep_last = 1 }\ntokens = [{hash=" + h + "}]\n",
       "tenant[0].retention.keep_min_keep: unknown field"},
      {"[[tenant]]\nname = \"a\"\ntokens = [{hash=" + h + "}]\n[[tenant.source]]\nname = \"/abs//x\"\n"
       "retention = { keep_last = 1 }\n",
       "tenant[0].source[0].name: source name"},
      {"[[tenant]]\nname = \"a\"\nretention = { min_keep = 3 }\ntokens = [{hash=" + h + "}]\n",
       "bvd.toml:3:13: tenant[0].retention: the policy has no keep rule"},
      {"[[tenant]]\nname = \"a\"\ntokens = [{hash=" + h + "}]\n[[tenant.source]]\nname = \"s\"\n",
       "tenant[0].source[0].retention: is missing"},
      {"[[tenant]]\nname = \"a\"\ntokens = [{hash=" + h + "}]\n[[tenant.source]]\nname = \"s\"\n"
       "retention = { keep_last = 1 }\n[[tenant.source]]\nname = \"s\"\nretention = { keep_last = 2 }\n",
       "tenant[0].source[1].name: source 's' is named twice"},
  };
  for (const auto& [text, want] : cases) {
    auto c = ParseConfig(text, "bvd.toml");
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_NE(c.status().message().find(want), std::string::npos) << text << " -> " << c.status().message();
  }
}

}  // namespace
}  // namespace bv::server
