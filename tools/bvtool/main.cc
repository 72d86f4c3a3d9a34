// bvtool: offline commands on a volume directory, and the client of bvd (--server). This file wires the command line; each
// command lives in cmd_<name>.cc.
#include <CLI/CLI.hpp>

#include "tools/bvtool/commands.h"

int main(int argc, char** argv) {
  using namespace bv::tool;
  CLI::App app{"bvtool: inspect, verify, repair and use BV volumes"};
  app.require_subcommand(1);
  Common c;
  Remote remote;
  // Commands that also work against bvd take DIR or --server; the others need DIR.
  auto add_common = [&](CLI::App* sub, bool remote_too = false) {
    auto* dir = sub->add_option("DIR", c.dir, remote_too ? "volume directory (or --server)" : "volume directory");
    if (!remote_too) dir->required();
    sub->add_option("--key-file", c.key_file, "master key file (default: $BV_KEY_FILE, then ~/.config/bv/keys/<uuid>.key)");
    sub->add_option("--io", c.io, "I/O backend: uring or sync (default: $BV_IO, else uring when available)");
    sub->add_flag("--json", c.json, "machine-readable output");
    if (remote_too) {
      sub->add_option("--server", remote.server, "bvd's address, HOST:PORT or unix:/PATH (default: $BV_SERVER)");
      sub->add_option("--tenant", remote.tenant, "tenant (default: $BV_TENANT, else default)");
      sub->add_option("--token-file", remote.token_file, "file holding the tenant's token (default: $BV_TOKEN_FILE)");
    }
  };

  std::string encryption = "xchacha20-poly1305", id_algo = "hmac-sha256";
  uint32_t avg = 64 << 10;
  uint64_t segment_mib = 256;
  auto* init = app.add_subcommand("init", "create a volume and its master key");
  add_common(init);
  init->add_option("--encryption", encryption, "xchacha20-poly1305 (default) or none");
  init->add_option("--chunk-id", id_algo, "hmac-sha256 (default) or blake2b");
  init->add_option("--chunk-avg", avg, "average chunk size in bytes (power of two; min = avg/2, max = avg*4)");
  init->add_option("--segment-mib", segment_mib, "segment size in MiB (default 256)");

  std::string source, file, label, time;
  auto* put = app.add_subcommand("put", "back up FILE (or standard input) as a snapshot of SOURCE");
  add_common(put);
  put->add_option("SOURCE", source, "source name, e.g. pg/orders")->required();
  put->add_option("FILE", file, "input file (default: standard input)");
  std::vector<std::string> streams;
  put->add_option("--stream", streams, "NAME=FILE, repeated: a snapshot of several named streams");
  put->add_option("--label", label, "label for the snapshot");
  put->add_option("--time", time, "snapshot time (default: now), UTC");
  put->add_option("--level", c.zstd_level, "zstd compression level (default 1)")->check(CLI::Range(1, 19));

  std::string since, until;
  auto* ls = app.add_subcommand("ls", "list snapshots, newest first");
  add_common(ls, true);
  ls->add_option("SOURCE", source, "only this source");
  ls->add_option("--since", since, "only snapshots at or after this time");
  ls->add_option("--until", until, "only snapshots at or before this time");

  std::string ref, out_path, range, stream;
  auto* get = app.add_subcommand("get", "restore a snapshot to standard output or a file");
  add_common(get, true);
  get->add_option("SNAPSHOT", ref, "id, SOURCE or SOURCE@TIME");
  get->add_option("-o,--output", out_path, "write to this file (beside it, then renamed)");
  get->add_option("--range", range, "bytes A-B (B exclusive) or A- of the stream");
  get->add_option("--stream", stream, "stream name (default: the first)");
  bool blocks = false;
  get->add_flag("--blocks", blocks,
                "with --server: fetch the stored blocks and check and decode them here (needs the appliance key)");

  auto* verify = app.add_subcommand("verify", "read and check every block, tag and stream hash");
  add_common(verify, true);
  verify->add_option("SNAPSHOT", ref, "only this snapshot");
  verify->add_option("--stream", stream, "with --blocks: the stream to check (default: the first)");
  verify->add_flag("--blocks", blocks, "with --server: fetch the stored blocks and check them here (needs the appliance key)");

  bool repair = false, rebuild = false;
  auto* fsck = app.add_subcommand("fsck", "check segments against the index (no key needed)");
  add_common(fsck);
  fsck->add_flag("--repair", repair, "cut torn tails and drop damaged chunks from the index");
  fsck->add_flag("--rebuild-index", rebuild, "rebuild the index from the segments alone");

  std::string segment;
  auto* inspect = app.add_subcommand("inspect", "list segments, or every block of one");
  add_common(inspect);
  inspect->add_option("SEGMENT", segment, "segment number or file name");

  std::string reason;
  auto* del = app.add_subcommand("delete", "delete a snapshot (its chunks stay until compaction)");
  add_common(del, true);
  del->add_option("SNAPSHOT", ref, "id, SOURCE or SOURCE@TIME");
  del->add_option("--reason", reason, "why, kept in the deletion record");

  auto* push = app.add_subcommand("push", "back up FILE (or standard input) to bvd as a snapshot of SOURCE");
  push->add_option("SOURCE", source, "source name, e.g. pg/orders")->required();
  push->add_option("FILE", file, "input file (default: standard input)");
  std::vector<std::string> push_streams;
  push->add_option("--stream", push_streams, "NAME FILE, repeated: a snapshot of several named streams")
      ->expected(2)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  push->add_option("--label", label, "label for the snapshot");
  push->add_option("--time", time, "snapshot time (default: now), UTC");
  uint64_t sync_every_mib = 0;
  push->add_option("--sync-every", sync_every_mib,
                   "MiB between acknowledged syncs, at most what a lost connection sends again (default: 256 for "
                   "a file, 32 for standard input, whose unsynced bytes are held in memory)")
      ->check(CLI::Range(1, 4096));
  push->add_option("--server", remote.server, "bvd's address, HOST:PORT or unix:/PATH (default: $BV_SERVER)");
  push->add_option("--tenant", remote.tenant, "tenant (default: $BV_TENANT, else default)");
  push->add_option("--token-file", remote.token_file, "file holding the tenant's token (default: $BV_TOKEN_FILE)");
  push->add_flag("--json", c.json, "machine-readable output");

  std::string role = "push";
  bool token_json = false;
  auto* token = app.add_subcommand("token", "print a new tenant token and its hash for bvd's configuration");
  token->add_option("--role", role, "push (may only add snapshots), read, or admin")
      ->check(CLI::IsMember({"push", "read", "admin"}));
  token->add_flag("--json", token_json, "machine-readable output");

  CLI11_PARSE(app, argc, argv);
  if (init->parsed()) return CmdInit(c, encryption, id_algo, avg, segment_mib);
  if (put->parsed()) return CmdPut(c, source, file, streams, label, time);
  // With --server, the first positional argument is the command's own, not a directory.
  const bool remote_mode = remote.given();
  if (blocks && !remote_mode) {
    std::fprintf(stderr, "bvtool: error: --blocks is for a running bvd (--server)\n");
    return 1;
  }
  auto shift = [&](std::string* first) {
    if (remote_mode && first->empty()) *first = c.dir;
    if (!remote_mode && c.dir.empty()) {
      std::fprintf(stderr, "bvtool: error: give a volume DIR, or --server for a running bvd\n");
      std::exit(1);
    }
  };
  if (ls->parsed()) {
    shift(&source);
    return remote_mode ? RemoteLs(c, remote, source, since, until) : CmdLs(c, source, since, until);
  }
  if (get->parsed()) {
    shift(&ref);
    if (ref.empty()) {
      std::fprintf(stderr, "bvtool: error: get needs a SNAPSHOT\n");
      return 1;
    }
    if (blocks) return RemoteGetBlocks(c, remote, ref, out_path, range, stream, /*verify_only=*/false);
    return remote_mode ? RemoteGet(c, remote, ref, out_path, range, stream) : CmdGet(c, ref, out_path, range, stream);
  }
  if (verify->parsed()) {
    shift(&ref);
    if (blocks) return RemoteGetBlocks(c, remote, ref, "", "", stream, /*verify_only=*/true);
    return remote_mode ? RemoteVerify(c, remote, ref) : CmdVerify(c, ref);
  }
  if (del->parsed()) {
    shift(&ref);
    if (ref.empty()) {
      std::fprintf(stderr, "bvtool: error: delete needs a SNAPSHOT\n");
      return 1;
    }
    return remote_mode ? RemoteDelete(c, remote, ref, reason) : CmdDelete(c, ref, reason);
  }
  if (push->parsed()) return RemotePush(c, remote, source, file, push_streams, label, time, sync_every_mib << 20);
  if (fsck->parsed()) return CmdFsck(c, repair, rebuild);
  if (inspect->parsed()) return CmdInspect(c, segment);
  if (token->parsed()) return CmdToken(token_json, role);
  return 1;
}
