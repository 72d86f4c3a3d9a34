// bvtool: offline commands on a volume directory, and tokens for bvd. This file wires the command line; each
// command lives in cmd_<name>.cc.
#include <CLI/CLI.hpp>

#include "tools/bvtool/commands.h"

int main(int argc, char** argv) {
  using namespace bv::tool;
  CLI::App app{"bvtool: inspect, verify, repair and use BV volumes"};
  app.require_subcommand(1);
  Common c;
  auto add_common = [&](CLI::App* sub) {
    sub->add_option("DIR", c.dir, "volume directory")->required();
    sub->add_option("--key-file", c.key_file, "master key file (default: $BV_KEY_FILE, then ~/.config/bv/keys/<uuid>.key)");
    sub->add_option("--io", c.io, "I/O backend: uring or sync (default: $BV_IO, else uring when available)");
    sub->add_flag("--json", c.json, "machine-readable output");
  };

  std::string encryption = "xchacha20-poly1305", id_algo = "hmac-sha256";
  uint32_t avg = 64 << 10;
  uint64_t segment_mib = 256;
  auto* init = app.add_subcommand("init", "create a volume and its master key");
  add_common(init);
  init->add_option("--encryption", encryption, "xchacha20-poly1305 (default) or none");
  init->add_option("--chunk-id", id_algo, "hmac-sha256 (default) or blake2b");
  init->add_option("--chunk-avg", avg, "average chunk size in bytes (power of two; min = avg/4, max = avg*4)");
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
  put->add_option("--level", c.zstd_level, "zstd compression level (default 3)")->check(CLI::Range(1, 19));

  std::string since, until;
  auto* ls = app.add_subcommand("ls", "list snapshots, newest first");
  add_common(ls);
  ls->add_option("SOURCE", source, "only this source");
  ls->add_option("--since", since, "only snapshots at or after this time");
  ls->add_option("--until", until, "only snapshots at or before this time");

  std::string ref, out_path, range, stream;
  auto* get = app.add_subcommand("get", "restore a snapshot to standard output or a file");
  add_common(get);
  get->add_option("SNAPSHOT", ref, "id, SOURCE or SOURCE@TIME")->required();
  get->add_option("-o,--output", out_path, "write to this file (beside it, then renamed)");
  get->add_option("--range", range, "bytes A-B (B exclusive) or A- of the stream");
  get->add_option("--stream", stream, "stream name (default: the first)");

  auto* verify = app.add_subcommand("verify", "read and check every block, tag and stream hash");
  add_common(verify);
  verify->add_option("SNAPSHOT", ref, "only this snapshot");

  bool repair = false, rebuild = false;
  auto* fsck = app.add_subcommand("fsck", "check segments against the index (no key needed)");
  add_common(fsck);
  fsck->add_flag("--repair", repair, "cut torn tails and drop damaged chunks from the index");
  fsck->add_flag("--rebuild-index", rebuild, "rebuild the index from the segments alone");

  std::string segment;
  auto* inspect = app.add_subcommand("inspect", "list segments, or every block of one");
  add_common(inspect);
  inspect->add_option("SEGMENT", segment, "segment number or file name");

  std::string role = "push";
  bool token_json = false;
  auto* token = app.add_subcommand("token", "print a new tenant token and its hash for bvd's configuration");
  token->add_option("--role", role, "push (may only add snapshots), read, or admin")
      ->check(CLI::IsMember({"push", "read", "admin"}));
  token->add_flag("--json", token_json, "machine-readable output");

  CLI11_PARSE(app, argc, argv);
  if (init->parsed()) return CmdInit(c, encryption, id_algo, avg, segment_mib);
  if (put->parsed()) return CmdPut(c, source, file, streams, label, time);
  if (ls->parsed()) return CmdLs(c, source, since, until);
  if (get->parsed()) return CmdGet(c, ref, out_path, range, stream);
  if (verify->parsed()) return CmdVerify(c, ref);
  if (fsck->parsed()) return CmdFsck(c, repair, rebuild);
  if (inspect->parsed()) return CmdInspect(c, segment);
  if (token->parsed()) return CmdToken(token_json, role);
  return 1;
}
