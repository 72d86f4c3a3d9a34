// The [[tenant.job]] tables of bvd's configuration (server/job_config.h, docs/jobs.md): every
// field read, defaults, and refusals that name the line and the field.
#include <gtest/gtest.h>

#include "server/config.h"
#include "server/token.h"
#include "tests/test_util.h"

namespace bv::server {
namespace {

std::string Tenant(const std::string& jobs, const std::string& more = "") {
  return "[[tenant]]\nname = \"shop\"\n" + more + "tokens = [{hash=\"" + TokenHash("bvt_x") + "\"}]\n" + jobs;
}

TEST(JobConfig, ParsesEveryField) {
  ASSERT_OK_AND_ASSIGN(ServerConfig c, ParseConfig(Tenant(R"(
[[tenant.job]]
name = "orders"
source = "pg/orders"
schedule = "30 2 * * *"
zone = "Europe/Berlin"
jitter = "10m"
timeout = "2h"
retries = 3
retry_delay = "30s"
retry_delay_max = "10m"
user = "postgres"
dir = "/var/lib/postgresql"
env = { PGHOST = "/run/postgresql", PGPORT = "5433" }
prune = true
  [[tenant.job.stream]]
  name = "orders.sql"
  command = ["pg_dump", "orders"]
  [[tenant.job.stream]]
  name = "files.tar"
  shell = "tar -cf - /srv"

[[tenant.job]]
name = "plain"
source = "app/plain"
  [[tenant.job.stream]]
  command = ["date"]
)", "max_jobs = 4\njob_history_days = 30\nretention = { keep_daily = 7 }\n"), "bvd.toml"));
  const TenantConfig& t = c.tenants[0];
  EXPECT_EQ(t.max_jobs, 4u);
  EXPECT_EQ(t.job_history_days, 30u);
  ASSERT_EQ(t.jobs.size(), 2u);
  const jobs::JobSpec& j = t.jobs[0];
  EXPECT_EQ(j.name, "orders");
  EXPECT_EQ(j.source, "pg/orders");
  ASSERT_TRUE(j.schedule.has_value());
  EXPECT_EQ(j.schedule->text(), "30 2 * * *");
  EXPECT_EQ(j.zone, "Europe/Berlin");
  EXPECT_EQ(j.jitter_s, 600u);
  EXPECT_EQ(j.timeout_s, 7200u);
  EXPECT_EQ(j.attempts, 4u);
  EXPECT_EQ(j.retry_delay_s, 30u);
  EXPECT_EQ(j.retry_delay_max_s, 600u);
  EXPECT_EQ(j.user, "postgres");
  EXPECT_EQ(j.dir, "/var/lib/postgresql");
  EXPECT_EQ(j.env, (std::vector<std::string>{"PGHOST=/run/postgresql", "PGPORT=5433"}));
  EXPECT_TRUE(j.prune);
  ASSERT_EQ(j.streams.size(), 2u);
  EXPECT_EQ(j.streams[0].argv, (std::vector<std::string>{"pg_dump", "orders"}));
  EXPECT_EQ(j.streams[1].argv, (std::vector<std::string>{"sh", "-c", "tar -cf - /srv"}));
  const jobs::JobSpec& p = t.jobs[1];
  EXPECT_FALSE(p.schedule.has_value());
  EXPECT_EQ(p.zone, "UTC");
  EXPECT_EQ(p.timeout_s, 86400u);
  EXPECT_EQ(p.attempts, 1u);
  EXPECT_EQ(p.streams[0].name, "");
}

TEST(JobConfig, ParsesARestoreJob) {
  ASSERT_OK_AND_ASSIGN(ServerConfig c, ParseConfig(Tenant(R"(
[[tenant.job]]
name = "orders"
source = "pg/orders"
  [[tenant.job.stream]]
  command = ["pg_dump", "orders"]

[[tenant.restore]]
name = "orders-drill"
source = "pg/orders"
stream = "orders.sql"
schedule = "0 5 * * 0"
shell = "createdb drill && psql -d drill"
check = ["psql", "-d", "drill", "-c", "select 1"]
backup_first = "orders"
timeout = "1h"
)"), "bvd.toml"));
  ASSERT_EQ(c.tenants[0].jobs.size(), 2u);
  const jobs::JobSpec& r = c.tenants[0].jobs[1];
  EXPECT_EQ(r.kind, jobs::JobKind::kRestore);
  EXPECT_EQ(r.stream, "orders.sql");
  EXPECT_EQ(r.consumer, (std::vector<std::string>{"sh", "-c", "createdb drill && psql -d drill"}));
  EXPECT_EQ(r.check, (std::vector<std::string>{"psql", "-d", "drill", "-c", "select 1"}));
  EXPECT_EQ(r.backup_first, "orders");
  EXPECT_EQ(r.timeout_s, 3600u);
  EXPECT_TRUE(r.streams.empty());
}

TEST(JobConfig, ParsesPruneAndVerifyJobs) {
  ASSERT_OK_AND_ASSIGN(ServerConfig c, ParseConfig(Tenant(R"(
[[tenant.prune]]
name = "nightly-prune"
schedule = "@daily"
sources = ["pg/orders", "app/files"]
compact_threshold = 80
compact_max_rate = 50000000

[[tenant.prune]]
name = "prune-only"
compact = false

[[tenant.verify]]
name = "verify"
schedule = "0 4 * * *"
share = "1/7"
timeout = "6h"

[[tenant.verify]]
name = "verify-all"
)"), "bvd.toml"));
  const std::vector<jobs::JobSpec>& jobs = c.tenants[0].jobs;
  ASSERT_EQ(jobs.size(), 4u);
  EXPECT_EQ(jobs[0].kind, jobs::JobKind::kPrune);
  EXPECT_EQ(jobs[0].sources, (std::vector<std::string>{"pg/orders", "app/files"}));
  EXPECT_TRUE(jobs[0].compact);
  EXPECT_DOUBLE_EQ(jobs[0].compact_threshold, 0.8);
  EXPECT_EQ(jobs[0].compact_max_rate, 50000000u);
  ASSERT_TRUE(jobs[0].schedule.has_value());
  EXPECT_FALSE(jobs[1].compact);
  EXPECT_TRUE(jobs[1].sources.empty());
  EXPECT_EQ(jobs[2].kind, jobs::JobKind::kVerify);
  EXPECT_EQ(jobs[2].share_num, 1u);
  EXPECT_EQ(jobs[2].share_den, 7u);
  EXPECT_EQ(jobs[2].timeout_s, 6 * 3600u);
  EXPECT_EQ(jobs[3].share_num, 1u);
  EXPECT_EQ(jobs[3].share_den, 1u);
  EXPECT_STREQ(jobs::JobKindName(jobs[3].kind), "verify");
}

TEST(JobConfig, RefusalsNameTheLineAndField) {
  const std::string stream = "[[tenant.job.stream]]\ncommand = [\"date\"]\n";
  const std::string job = "[[tenant.job]]\nname = \"j\"\nsource = \"s\"\n";
  const std::pair<std::string, std::string> cases[] = {
      {Tenant(job), "tenant[0].job[0].stream: must be one or more"},
      {Tenant("[[tenant.job]]\nname = \"J\"\nsource = \"s\"\n" + stream), "tenant[0].job[0].name: a job name"},
      {Tenant("[[tenant.job]]\nname = \"j\"\n" + stream), "tenant[0].job[0].source: source name"},
      {Tenant(job + "schedule = \"0 3 * *\"\n" + stream), "tenant[0].job[0].schedule: cron schedule \"0 3 * *\": has 4 fields"},
      {Tenant(job + "zone = \"Mars/Base\"\n" + stream), "tenant[0].job[0].zone: time zone \"Mars/Base\""},
      {Tenant(job + "timeout = \"2x\"\n" + stream), "tenant[0].job[0].timeout: duration \"2x\": 'x' is not a unit"},
      {Tenant(job + "timeout = \"0s\"\n" + stream), "tenant[0].job[0].timeout: must be from 1s to 7d"},
      {Tenant(job + "retries = 100\n" + stream), "tenant[0].job[0].retries: must be between 0 and 99"},
      {Tenant(job + "dir = \"relative\"\n" + stream), "tenant[0].job[0].dir: must be an absolute path"},
      {Tenant(job + "env = { A = 1 }\n" + stream), "tenant[0].job[0].env.A: must be a string"},
      {Tenant(job + "colour = 1\n" + stream), "tenant[0].job[0].colour: unknown field"},
      {Tenant(job + "prune = true\n" + stream), "job j prunes s, which has no retention policy"},
      {Tenant(job + "[[tenant.job.stream]]\nname = \"a\"\n"), "tenant[0].job[0].stream[0].command: is missing: command = "},
      {Tenant(job + "[[tenant.job.stream]]\ncommand = [\"a\"]\nshell = \"b\"\n"),
       "tenant[0].job[0].stream[0].shell: goes instead of command, not with it"},
      {Tenant(job + "[[tenant.job.stream]]\ncommand = [\"\"]\n"), "tenant[0].job[0].stream[0].command: the command's name is empty"},
      {Tenant(job + stream + stream), "tenant[0].job[0].stream[0].name: a job of several streams names each"},
      {Tenant(job + "[[tenant.job.stream]]\nname = \"x\"\ncommand = [\"a\"]\n[[tenant.job.stream]]\nname = \"x\"\n"
                    "command = [\"b\"]\n"),
       "tenant[0].job[0].stream[1].name: \"x\" is named twice"},
      {Tenant(job + stream + job + stream), "tenant[0].job[1].name: job \"j\" is named twice"},
      {Tenant(job + stream, "max_jobs = 0\n"), "tenant[0].max_jobs: must be between 1 and 64"},
      {Tenant("[[tenant.restore]]\nname = \"r\"\nsource = \"s\"\n"), "tenant[0].restore[0].command: is missing"},
      {Tenant("[[tenant.restore]]\nname = \"r\"\nsource = \"s\"\ncommand = [\"a\"]\nshell = \"b\"\n"),
       "tenant[0].restore[0].shell: goes instead of command"},
      {Tenant("[[tenant.restore]]\nname = \"r\"\nsource = \"s\"\ncommand = [\"a\"]\nbackup_first = \"x\"\n"),
       "job r: backup_first names no backup job \"x\""},
      {Tenant(job + stream + "[[tenant.restore]]\nname = \"j\"\nsource = \"s\"\ncommand = [\"a\"]\n"),
       "tenant[0].restore[0].name: job \"j\" is named twice"},
      {Tenant("[[tenant.restore]]\nname = \"r\"\nsource = \"s\"\ncommand = [\"a\"]\nstreams = 1\n"),
       "tenant[0].restore[0].streams: unknown field"},
      {Tenant("[[tenant.verify]]\nname = \"v\"\nshare = \"2/1\"\n"), "tenant[0].verify[0].share: \"2/1\" is not a share"},
      {Tenant("[[tenant.verify]]\nname = \"v\"\nshare = \"0/7\"\n"), "tenant[0].verify[0].share: \"0/7\" is not a share"},
      {Tenant("[[tenant.verify]]\nname = \"v\"\nshare = \"1/1001\"\n"), "tenant[0].verify[0].share"},
      {Tenant("[[tenant.verify]]\nname = \"v\"\nsource = \"s\"\n"), "tenant[0].verify[0].source: unknown field"},
      {Tenant("[[tenant.prune]]\nname = \"p\"\nsources = [\"/abs\"]\n"), "tenant[0].prune[0].sources: source name starts with"},
      {Tenant("[[tenant.prune]]\nname = \"p\"\ncompact = false\ncompact_threshold = 50\n"),
       "tenant[0].prune[0].compact: is false"},
      {Tenant("[[tenant.prune]]\nname = \"p\"\ncommand = [\"a\"]\n"), "tenant[0].prune[0].command: unknown field"},
      {Tenant(job + stream + "[[tenant.verify]]\nname = \"j\"\n"), "tenant[0].verify[0].name: job \"j\" is named twice"},
  };
  for (const auto& [text, want] : cases) {
    auto c = ParseConfig(text, "bvd.toml");
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_NE(c.status().message().find(want), std::string::npos) << text << " -> " << c.status().message();
    EXPECT_EQ(c.status().message().rfind("bvd.toml:", 0), 0u) << c.status().message();
  }
}

}  // namespace
}  // namespace bv::server
