// bvtool: offline commands on a volume directory, and the client of bvd (--server). This file wires the command line; each
// command lives in cmd_<name>.cc.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/compact.h"
#include "engine/segment_size.h"
#include "tools/bvtool/commands.h"

namespace bv::tool {
namespace {

// Every option's value. Commands share a field where they share an option's meaning; only one
// command runs.
struct Args {
  Common c;
  Remote remote;
  std::string encryption = "xchacha20-poly1305", id_algo = "hmac-sha256";  // init
  uint32_t avg = 64 << 10;
  uint64_t segment_mib = engine::kDefaultSegmentSize >> 20;
  std::string source, file, label, time;  // put, push (source: ls too)
  std::vector<std::string> streams;       // put
  std::vector<std::string> push_streams;  // push
  uint64_t sync_every_mib = 0;            // push
  std::string since, until;               // ls
  std::string ref, out_path, range, stream, reason;  // get, verify, delete
  bool blocks = false;
  bool into = false;                 // get
  std::vector<std::string> command;  // push, get --into: what follows --
  bool repair = false, rebuild = false;  // fsck
  std::string segment;                   // inspect
  std::string role = "push";             // token
  bool token_json = false;
  std::vector<std::string> sources;  // prune
  bool then_compact = false;         // prune --compact
  KeepOptions keep;
  bool dry_run = false;
  uint32_t threshold_pct = static_cast<uint32_t>(engine::kDefaultCompactThreshold * 100 + 0.5);  // compact
  double max_rate_mb = 0;
  std::string job;        // run-job, cancel-job, job-history
  uint32_t limit = 20;    // job-history
  bool wait = false;      // run-job
};

// The subcommands, to tell which one the command line named.
struct Commands {
  CLI::App *init, *put, *ls, *get, *verify, *fsck, *inspect, *del, *prune, *compact, *df, *push, *token;
  CLI::App *jobs, *history, *run_job, *cancel_job, *restore_job;
};

void AddServerOptions(CLI::App* sub, Remote* remote) {
  sub->add_option("--server", remote->server,
                  "bvd's address: tls://HOST:PORT, HOST:PORT (plain) or unix:/PATH (default: $BV_SERVER)");
  sub->add_option("--tenant", remote->tenant, "tenant (default: $BV_TENANT, else default)");
  sub->add_option("--token-file", remote->token_file, "file holding the tenant's token (default: $BV_TOKEN_FILE)");
  sub->add_option("--fingerprint", remote->fingerprint,
                  "tls://: the SHA-256 fingerprint bvd printed, AB:CD:… or 64 hex digits (default: $BV_FINGERPRINT)");
  sub->add_option("--ca", remote->ca_file, "tls://: verify bvd's certificate and name with these CAs (default: $BV_CA)");
  sub->add_flag("--insecure", remote->insecure, "tls://: accept any server certificate (no verification)");
  sub->add_option("--cert", remote->cert_file, "tls://: client certificate (PEM), for tenants that ask for one");
  sub->add_option("--key", remote->key_file, "tls://: the client certificate's key (PEM)");
  sub->add_flag("--plain", remote->plain,
                "allow a plain HOST:PORT on another host (token and data in clear; only loopback without it)");
}

// Commands that also work against bvd (remote_too) take DIR or --server; the others need DIR.
void AddCommon(CLI::App* sub, Args* a, bool remote_too = false) {
  auto* dir = sub->add_option("DIR", a->c.dir, remote_too ? "volume directory (or --server)" : "volume directory");
  if (!remote_too) dir->required();
  sub->add_option("--key-file", a->c.key_file, "master key file (default: $BV_KEY_FILE, then ~/.config/bv/keys/<uuid>.key)");
  sub->add_option("--io", a->c.io, "I/O backend: uring or sync (default: $BV_IO, else uring when available)");
  sub->add_flag("--json", a->c.json, "machine-readable output");
  if (remote_too) AddServerOptions(sub, &a->remote);
}

// init and put: a volume made or written here.
void AddVolumeWrites(CLI::App* app, Args* a, Commands* cmd) {
  cmd->init = app->add_subcommand("init", "create a volume and its master key");
  AddCommon(cmd->init, a);
  cmd->init->add_option("--encryption", a->encryption, "xchacha20-poly1305 (default) or none");
  cmd->init->add_option("--chunk-id", a->id_algo, "hmac-sha256 (default) or blake2b");
  cmd->init->add_option("--chunk-avg", a->avg, "average chunk size in bytes (power of two; min = avg/2, max = avg*4)");
  cmd->init->add_option("--segment-mib", a->segment_mib, "segment size in MiB (default " + std::to_string(engine::kDefaultSegmentSize >> 20) + ")");

  cmd->put = app->add_subcommand("put", "back up FILE, standard input or the output of -- COMMAND [ARGS...] as a snapshot "
                                        "of SOURCE (a COMMAND's only if it exits with status 0)");
  AddCommon(cmd->put, a);
  cmd->put->add_option("SOURCE", a->source, "source name, e.g. pg/orders")->required();
  cmd->put->add_option("FILE", a->file, "input file (default: standard input)");
  cmd->put->add_option("--stream", a->streams, "NAME=FILE, repeated: a snapshot of several named streams");
  cmd->put->add_option("--label", a->label, "label for the snapshot");
  cmd->put->add_option("--time", a->time, "snapshot time (default: now), UTC");
  cmd->put->add_option("--level", a->c.zstd_level, "zstd compression level (default 1)")->check(CLI::Range(1, 19));
}

// ls, get and verify: on a volume directory or against bvd.
void AddReads(CLI::App* app, Args* a, Commands* cmd) {
  cmd->ls = app->add_subcommand("ls", "list snapshots, newest first");
  AddCommon(cmd->ls, a, true);
  cmd->ls->add_option("SOURCE", a->source, "only this source");
  cmd->ls->add_option("--since", a->since, "only snapshots at or after this time");
  cmd->ls->add_option("--until", a->until, "only snapshots at or before this time");

  cmd->get = app->add_subcommand("get", "restore a snapshot to standard output or a file");
  AddCommon(cmd->get, a, true);
  cmd->get->add_option("SNAPSHOT", a->ref, "id, SOURCE or SOURCE@TIME");
  cmd->get->add_option("-o,--output", a->out_path, "write to this file (beside it, then renamed)");
  cmd->get->add_option("--range", a->range, "bytes A-B (B exclusive) or A- of the stream");
  cmd->get->add_option("--stream", a->stream, "stream name (default: the first)");
  cmd->get->add_flag("--blocks", a->blocks,
                     "with --server: fetch the stored blocks and check and decode them here (needs the appliance key)");
  cmd->get->add_flag("--into", a->into,
                     "-- COMMAND [ARGS...]: run COMMAND with the stream as its standard input; on any failure it is "
                     "killed before it sees the end of its input; exits with its status");

  cmd->verify = app->add_subcommand("verify", "read and check every block, tag and stream hash");
  AddCommon(cmd->verify, a, true);
  cmd->verify->add_option("SNAPSHOT", a->ref, "only this snapshot");
  cmd->verify->add_option("--stream", a->stream, "with --blocks: the stream to check (default: the first)");
  cmd->verify->add_flag("--blocks", a->blocks,
                        "with --server: fetch the stored blocks and check them here (needs the appliance key)");
}

// fsck, inspect, delete and prune: a volume's upkeep (delete against bvd too).
void AddUpkeep(CLI::App* app, Args* a, Commands* cmd) {
  cmd->fsck = app->add_subcommand("fsck", "check segments against the index (no key needed)");
  AddCommon(cmd->fsck, a);
  cmd->fsck->add_flag("--repair", a->repair, "cut torn tails and drop damaged chunks from the index");
  cmd->fsck->add_flag("--rebuild-index", a->rebuild, "rebuild the index from the segments alone");

  cmd->inspect = app->add_subcommand("inspect", "list segments, or every block of one");
  AddCommon(cmd->inspect, a);
  cmd->inspect->add_option("SEGMENT", a->segment, "segment number or file name");

  cmd->del = app->add_subcommand("delete", "delete a snapshot (its chunks stay until compaction)");
  AddCommon(cmd->del, a, true);
  cmd->del->add_option("SNAPSHOT", a->ref, "id, SOURCE or SOURCE@TIME");
  cmd->del->add_option("--reason", a->reason, "why, kept in the deletion record");

  cmd->prune = app->add_subcommand("prune", "keep the snapshots a retention policy names (restic's rules, in UTC) and "
                                            "delete the others (their chunks stay until compaction)");
  AddCommon(cmd->prune, a, true);
  cmd->prune->add_option("SOURCE", a->sources, "only these sources (default: every source; with --server, 4 at most)");
  AddKeepOptions(cmd->prune, &a->keep);
  cmd->prune->add_flag("--dry-run", a->dry_run, "say what would be kept and removed, and why; change nothing");
  cmd->prune->add_flag("--compact", a->then_compact,
                       "then compact, as `compact` does by default, in the same run (restic's forget --prune)");

  cmd->compact = app->add_subcommand("compact", "give back the space of what no kept snapshot needs: rewrite the "
                                                "sealed segments that are mostly not needed, then remove them");
  AddCommon(cmd->compact, a, true);
  cmd->compact->add_flag("--dry-run", a->dry_run, "say which segments would be rewritten and what that frees; change nothing");
  cmd->compact->add_option("--threshold", a->threshold_pct, "rewrite a sealed segment less than PCT% live (default 90)")
      ->type_name("PCT")
      ->check(CLI::Range(1, 100));
  cmd->compact->add_option("--max-rate", a->max_rate_mb, "copy at most this many MB/s (default: no limit)")
      ->type_name("MB/s")
      ->check(CLI::Range(0.001, 1e6));

  cmd->df = app->add_subcommand("df", "bytes on disk, bytes still needed, and what compaction would free");
  AddCommon(cmd->df, a, true);
}

// push (to bvd only) and token (for bvd's configuration).
void AddServerCommands(CLI::App* app, Args* a, Commands* cmd) {
  cmd->push = app->add_subcommand("push", "back up FILE, standard input or the output of -- COMMAND [ARGS...] to bvd as a "
                                          "snapshot of SOURCE (a COMMAND's only if it exits with status 0)");
  cmd->push->add_option("SOURCE", a->source, "source name, e.g. pg/orders")->required();
  cmd->push->add_option("FILE", a->file, "input file (default: standard input)");
  cmd->push->add_option("--stream", a->push_streams, "NAME FILE, repeated: a snapshot of several named streams")
      ->expected(2)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->push->add_option("--label", a->label, "label for the snapshot");
  cmd->push->add_option("--time", a->time, "snapshot time (default: now), UTC");
  cmd->push->add_option("--sync-every", a->sync_every_mib,
                        "MiB between acknowledged syncs, at most what a lost connection sends again (default: 256 for "
                        "a file, 32 for standard input, whose unsynced bytes are held in memory)")
      ->check(CLI::Range(1, 4096));
  AddServerOptions(cmd->push, &a->remote);
  cmd->push->add_flag("--json", a->c.json, "machine-readable output");

  cmd->jobs = app->add_subcommand("jobs", "bvd's backup jobs: schedule, next run, state, last result, last good run");
  cmd->history = app->add_subcommand("job-history", "a job's runs, newest first, with why each that failed did");
  cmd->history->add_option("JOB", a->job, "the job's name")->required();
  cmd->history->add_option("--limit", a->limit, "runs to show (default 20)")->check(CLI::Range(1, 1000));
  cmd->run_job = app->add_subcommand("run-job", "start a job now, outside its schedule (admin token)");
  cmd->run_job->add_option("JOB", a->job, "the job's name")->required();
  cmd->run_job->add_flag("--wait", a->wait, "wait for the run to end; exit 1 unless it ended ok");
  cmd->cancel_job = app->add_subcommand("cancel-job", "kill a job's run under way; it commits nothing (admin token)");
  cmd->cancel_job->add_option("JOB", a->job, "the job's name")->required();
  cmd->restore_job = app->add_subcommand("restore-job", "run a restore job on SNAPSHOT and wait for it (admin token); "
                                                        "exit 1 unless the restore and its check succeed");
  cmd->restore_job->add_option("JOB", a->job, "the restore job's name")->required();
  cmd->restore_job->add_option("SNAPSHOT", a->ref, "id, SOURCE or SOURCE@TIME (default: the job's source's newest)");
  for (CLI::App* sub : {cmd->jobs, cmd->history, cmd->run_job, cmd->cancel_job, cmd->restore_job}) {
    AddServerOptions(sub, &a->remote);
    sub->add_flag("--json", a->c.json, "machine-readable output");
  }

  cmd->token = app->add_subcommand("token", "print a new tenant token and its hash for bvd's configuration");
  cmd->token->add_option("--role", a->role, "push (may only add snapshots), read, or admin")
      ->check(CLI::IsMember({"push", "read", "admin"}));
  cmd->token->add_flag("--json", a->token_json, "machine-readable output");
}

// With --server, the first positional argument is the command's own, not a directory.
void ShiftDir(Args* a, bool remote_mode, std::string* first) {
  if (remote_mode && first->empty()) *first = a->c.dir;
  if (!remote_mode && a->c.dir.empty()) {
    std::fprintf(stderr, "bvtool: error: give a volume DIR, or --server for a running bvd\n");
    std::exit(1);
  }
}

int NeedSnapshot(const char* command) {
  std::fprintf(stderr, "bvtool: error: %s needs a SNAPSHOT\n", command);
  return 1;
}

// get --into and -- COMMAND go together, and with nothing else that says where the bytes go.
int CheckInto(const Args& a) {
  const char* why = nullptr;
  if (a.into && a.command.empty()) why = "--into needs -- COMMAND [ARGS...] after it";
  if (!a.into && !a.command.empty()) why = "get runs -- COMMAND only with --into";
  if (a.into && (!a.out_path.empty() || a.blocks)) why = "--into does not go with -o or --blocks";
  if (why == nullptr) return 0;
  std::fprintf(stderr, "bvtool: error: %s\n", why);
  return 1;
}

// ls, get, verify and delete: against bvd with --server, else on DIR.
int RunDirOrServer(const Commands& cmd, Args* a) {
  const bool remote_mode = a->remote.given();
  if (a->blocks && !remote_mode) {
    std::fprintf(stderr, "bvtool: error: --blocks is for a running bvd (--server)\n");
    return 1;
  }
  const Common& c = a->c;
  if (cmd.ls->parsed()) {
    ShiftDir(a, remote_mode, &a->source);
    return remote_mode ? RemoteLs(c, a->remote, a->source, a->since, a->until) : CmdLs(c, a->source, a->since, a->until);
  }
  if (cmd.get->parsed()) {
    ShiftDir(a, remote_mode, &a->ref);
    if (a->ref.empty()) return NeedSnapshot("get");
    if (int bad = CheckInto(*a); bad != 0) return bad;
    if (a->blocks) return RemoteGetBlocks(c, a->remote, a->ref, a->out_path, a->range, a->stream, /*verify_only=*/false);
    return remote_mode ? RemoteGet(c, a->remote, a->ref, a->out_path, a->range, a->stream, a->command)
                       : CmdGet(c, a->ref, a->out_path, a->range, a->stream, a->command);
  }
  if (cmd.verify->parsed()) {
    ShiftDir(a, remote_mode, &a->ref);
    if (a->blocks) return RemoteGetBlocks(c, a->remote, a->ref, "", "", a->stream, /*verify_only=*/true);
    return remote_mode ? RemoteVerify(c, a->remote, a->ref) : CmdVerify(c, a->ref);
  }
  ShiftDir(a, remote_mode, &a->ref);  // delete
  if (a->ref.empty()) return NeedSnapshot("delete");
  return remote_mode ? RemoteDelete(c, a->remote, a->ref, a->reason) : CmdDelete(c, a->ref, a->reason);
}

int Run(const Commands& cmd, Args* a) {
  const Common& c = a->c;
  if (cmd.init->parsed()) return CmdInit(c, a->encryption, a->id_algo, a->avg, a->segment_mib);
  if (cmd.put->parsed()) return CmdPut(c, a->source, a->file, a->streams, a->label, a->time, a->command);
  if (cmd.ls->parsed() || cmd.get->parsed() || cmd.verify->parsed() || cmd.del->parsed()) return RunDirOrServer(cmd, a);
  if (cmd.push->parsed()) {
    return RemotePush(c, a->remote, PushArgs{a->source, a->file, a->push_streams, a->command, a->label, a->time,
                                             a->sync_every_mib << 20});
  }
  if (cmd.fsck->parsed()) return CmdFsck(c, a->repair, a->rebuild);
  if (cmd.inspect->parsed()) return CmdInspect(c, a->segment);
  if (cmd.prune->parsed()) {
    std::string unused;
    ShiftDir(a, a->remote.given(), &unused);  // DIR, unless --server
    if (!a->remote.given()) return CmdPrune(c, a->sources, a->keep, a->dry_run, a->then_compact);
    if (!a->c.dir.empty()) a->sources.insert(a->sources.begin(), a->c.dir);  // no DIR with --server
    return RemotePrune(c, a->remote, a->sources, a->keep, a->dry_run, a->then_compact);
  }
  if (cmd.compact->parsed() || cmd.df->parsed()) {
    std::string unused;
    ShiftDir(a, a->remote.given(), &unused);  // DIR, unless --server
    if (!a->c.dir.empty() && a->remote.given()) {
      std::fprintf(stderr, "bvtool: error: give a volume DIR or --server, not both\n");
      return 1;
    }
    if (cmd.df->parsed()) return a->remote.given() ? RemoteDf(c, a->remote) : CmdDf(c);
    return a->remote.given() ? RemoteCompact(c, a->remote, a->dry_run, a->threshold_pct, a->max_rate_mb)
                             : CmdCompact(c, a->dry_run, a->threshold_pct, a->max_rate_mb);
  }
  if (cmd.token->parsed()) return CmdToken(a->token_json, a->role);
  if (cmd.jobs->parsed()) return RemoteJobs(c, a->remote);
  if (cmd.history->parsed()) return RemoteJobHistory(c, a->remote, a->job, a->limit);
  if (cmd.run_job->parsed()) return RemoteRunJob(c, a->remote, a->job, "", a->wait);
  if (cmd.restore_job->parsed()) return RemoteRunJob(c, a->remote, a->job, a->ref, true);
  if (cmd.cancel_job->parsed()) return RemoteCancelJob(c, a->remote, a->job);
  return 1;
}

// push/put … -- COMMAND [ARGS...] and get … --into -- COMMAND [ARGS...]: everything after the first
// "--" is the command, taken out before CLI11 sees the rest (it would read it as positionals).
// Returns the new argc.
int SplitCommand(int argc, char** argv, std::vector<std::string>* command) {
  for (int i = 1; i < argc; i++) {
    if (std::string(argv[i]) != "--") continue;
    command->assign(argv + i + 1, argv + argc);
    if (command->empty()) {
      std::fprintf(stderr, "bvtool: error: no COMMAND after --\n");
      std::exit(1);
    }
    return i;
  }
  return argc;
}

}  // namespace
}  // namespace bv::tool

int main(int argc, char** argv) {
  using namespace bv::tool;
  CLI::App app{"bvtool: inspect, verify, repair and use BV volumes"};
  app.require_subcommand(1);
  Args a;
  Commands cmd;
  AddVolumeWrites(&app, &a, &cmd);
  AddReads(&app, &a, &cmd);
  AddUpkeep(&app, &a, &cmd);
  AddServerCommands(&app, &a, &cmd);
  argc = SplitCommand(argc, argv, &a.command);
  CLI11_PARSE(app, argc, argv);
  if (!a.command.empty() && !cmd.push->parsed() && !cmd.put->parsed() && !cmd.get->parsed()) {
    std::fprintf(stderr, "bvtool: error: -- COMMAND is for push, put and get --into\n");
    return 1;
  }
  return Run(cmd, &a);
}
