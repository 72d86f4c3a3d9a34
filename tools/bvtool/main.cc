// bvtool: offline commands on a volume directory.
#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/time_format.h"
#include "engine/check.h"
#include "engine/ingest.h"
#include "engine/restore.h"
#include "engine/volume.h"
#include "format/recipe_format.h"
#include "format/segment_scanner.h"
#include "engine/file_source.h"
#include "tools/bvtool/snapshot_ref.h"

namespace bv::tool {
namespace {

using engine::Volume;
using nlohmann::json;

struct Common {
  std::string dir;
  std::string key_file;
  std::string io = "";
  bool json = false;
  int zstd_level = 3;  // put only
};

// Progress on standard error, only when it is a terminal, at most 4 times a second.
class Progress {
 public:
  explicit Progress(const char* verb) : verb_(verb), on_(isatty(STDERR_FILENO) == 1), start_(Clock::now()) {}
  void Update(uint64_t bytes) {
    if (!on_) return;
    auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(250)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "\r%s %.1f MiB  %.0f MB/s   ", verb_, bytes / 1048576.0, secs > 0 ? bytes / secs / 1e6 : 0.0);
  }
  ~Progress() {
    if (on_ && last_ != Clock::time_point{}) std::fprintf(stderr, "\n");
  }

 private:
  using Clock = std::chrono::steady_clock;
  const char* verb_;
  bool on_;
  Clock::time_point start_, last_{};
};

[[noreturn]] void Fail(const Status& s) {
  std::fprintf(stderr, "bvtool: error: %s\n", s.ToString().c_str());
  std::exit(s.code() == Status::Code::kCorruption ? 3 : 1);
}

template <typename T>
T Check(Result<T> r) {
  if (!r.ok()) Fail(r.status());
  return std::move(r).value();
}

void Check(const Status& s) {
  if (!s.ok()) Fail(s);
}

io::Backend BackendOf(const Common& c) {
  if (c.io == "sync") return io::Backend::kSync;
  if (c.io == "uring") return io::Backend::kUring;
  return Check(io::BackendFromEnvironment());
}

// Checking commands report recovery's notes in their own report; the others print them here.
std::unique_ptr<Volume> OpenVolume(const Common& c, bool need_key, engine::RecoverMode mode = {},
                                   bool rebuild = false, bool print_notes = true) {
  engine::OpenOptions o;
  o.key_file = c.key_file;
  o.need_key = need_key;
  o.backend = BackendOf(c);
  o.recover = mode;
  o.rebuild_index = rebuild;
  o.zstd_level = c.zstd_level;
  auto v = Check(Volume::Open(c.dir, o));
  if (print_notes) {
    for (const std::string& note : v->recovery().notes) std::fprintf(stderr, "bvtool: recovery: %s\n", note.c_str());
  }
  return v;
}

std::string Hex(const uint8_t* p, size_t n) {
  std::string s(2 * n + 1, '\0');
  sodium_bin2hex(s.data(), s.size(), p, n);
  s.pop_back();
  return s;
}

json SnapshotJson(const format::SnapshotRecord& r) {
  json streams = json::array();
  for (const auto& s : r.streams) {
    streams.push_back({{"name", s.name}, {"length", s.length}, {"hash", Hex(s.hash.data(), s.hash.size())},
                       {"chunks", s.chunk_count}});
  }
  return {{"id", SnapshotIdString(r.id)}, {"source", r.source}, {"time", FormatTime(r.time_us)},
          {"label", r.label}, {"logical_bytes", r.logical_bytes()}, {"stored_bytes", r.stored_bytes},
          {"new_bytes", r.new_bytes}, {"streams", streams}};
}

std::string Human(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    u++;
  }
  char b[32];
  std::snprintf(b, sizeof b, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return b;
}

int CmdInit(const Common& c, const std::string& encryption, const std::string& id_algo, uint32_t avg,
            uint64_t segment_mib) {
  engine::InitOptions o;
  if (encryption == "none") o.encrypt = false;
  else if (encryption != "xchacha20-poly1305") Fail(Status::InvalidArgument("--encryption must be xchacha20-poly1305 or none"));
  if (id_algo == "hmac-sha256") o.id_algo = format::IdAlgo::kHmacSha256;
  else if (id_algo == "blake2b") o.id_algo = format::IdAlgo::kBlake2bKeyed;
  else Fail(Status::InvalidArgument("--chunk-id must be hmac-sha256 or blake2b"));
  o.key_file = c.key_file;
  o.chunk_avg = avg;
  o.chunk_min = avg / 4;
  o.chunk_max = avg * 4;
  o.segment_size = segment_mib << 20;
  std::string key_path;
  Check(Volume::Init(c.dir, o, &key_path));
  if (c.json) {
    std::cout << json{{"volume", c.dir}, {"key_file", key_path}, {"encrypted", o.encrypt}}.dump() << "\n";
  } else {
    std::printf("created volume %s\n", c.dir.c_str());
    if (o.encrypt) {
      std::printf("master key: %s (mode 0600)\n", key_path.c_str());
      std::printf("keep a copy of the key elsewhere: without it nothing in the volume can be restored\n");
    }
  }
  return 0;
}

int CmdPut(const Common& c, const std::string& source, const std::string& file, const std::string& label,
           const std::string& time) {
  auto v = OpenVolume(c, true);
  int fd = STDIN_FILENO;
  if (!file.empty() && file != "-") {
    fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) Fail(Status::FromErrno("open " + file, errno));
  }
  engine::FdInput in(fd, file.empty() ? "standard input" : file);
  engine::PutOptions o;
  o.source = source;
  o.label = label;
  if (!time.empty()) o.time_us = Check(ParseTime(time));
  Progress progress("put");
  o.progress = [&](uint64_t n) { progress.Update(n); };
  auto rec = Check(engine::Put(v.get(), o, {{"", &in}}));
  Check(v->Close());
  // Printed only now: the snapshot is durable.
  if (c.json) {
    std::cout << SnapshotJson(rec).dump() << std::endl;
  } else {
    std::cout << SnapshotIdString(rec.id) << std::endl;
  }
  return 0;
}

int CmdLs(const Common& c, const std::string& source, const std::string& since, const std::string& until) {
  const int64_t from = since.empty() ? INT64_MIN : Check(ParseTime(since));
  const int64_t to = until.empty() ? INT64_MAX : Check(ParseTime(until));
  auto v = OpenVolume(c, false);
  std::vector<format::SnapshotRecord> all;
  Check(v->index()->ForEachSnapshot(source, [&](const engine::SnapshotEntry& e) {
    if (e.record.time_us >= from && e.record.time_us <= to) all.push_back(e.record);
    return true;
  }));
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.time_us > b.time_us; });
  if (c.json) {
    json out = json::array();
    for (const auto& r : all) out.push_back(SnapshotJson(r));
    std::cout << out.dump(2) << "\n";
  } else {
    std::printf("%-16s  %-20s  %-24s  %10s  %10s  %10s  %s\n", "ID", "TIME", "SOURCE", "LOGICAL", "STORED", "NEW", "LABEL");
    for (const auto& r : all) {
      // Whole seconds in the table; --json has the exact time.
      std::printf("%-16s  %-20s  %-24s  %10s  %10s  %10s  %s\n", SnapshotIdString(r.id).c_str(),
                  FormatTime(r.time_us - r.time_us % 1000000).c_str(), r.source.c_str(), Human(r.logical_bytes()).c_str(),
                  Human(r.stored_bytes).c_str(), Human(r.new_bytes).c_str(), r.label.c_str());
    }
  }
  Check(v->Close());
  return 0;
}

std::optional<engine::ByteRange> ParseRange(const std::string& s, uint64_t length) {
  if (s.empty()) return std::nullopt;
  size_t dash = s.find('-');
  if (dash == std::string::npos) Fail(Status::InvalidArgument("--range " + s + ": expected A-B or A-"));
  try {
    engine::ByteRange r;
    r.begin = std::stoull(s.substr(0, dash));
    r.end = dash + 1 == s.size() ? length : std::stoull(s.substr(dash + 1));
    return r;
  } catch (const std::exception&) {
    Fail(Status::InvalidArgument("--range " + s + ": expected byte offsets A-B"));
  }
}

int CmdGet(const Common& c, const std::string& ref, const std::string& out_path, const std::string& range,
           const std::string& stream_name) {
  auto v = OpenVolume(c, true);
  auto snap = Check(ResolveSnapshot(v->index(), ref));
  engine::RestoreOptions o;
  bool found = stream_name.empty();
  for (size_t i = 0; i < snap.record.streams.size() && !found; i++) {
    if (snap.record.streams[i].name == stream_name) {
      o.stream = static_cast<uint16_t>(i);
      found = true;
    }
  }
  if (!found) Fail(Status::NotFound("snapshot has no stream named '" + stream_name + "'"));
  o.range = ParseRange(range, snap.record.streams[o.stream].length);
  Progress progress("get");
  o.progress = [&](uint64_t n) { progress.Update(n); };
  if (out_path.empty() || out_path == "-") {
    engine::FdSink sink(STDOUT_FILENO, "standard output");
    Check(engine::Restore(v.get(), snap, o, &sink));
  } else {
    // Written beside the target and renamed over it only when whole and checked.
    const std::string tmp = out_path + ".bv-partial-" + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) Fail(Status::FromErrno("create " + tmp, errno));
    engine::FdSink sink(fd, tmp);
    Status s = engine::Restore(v.get(), snap, o, &sink);
    if (s.ok() && ::fsync(fd) != 0) s = Status::FromErrno("fsync " + tmp, errno);
    ::close(fd);
    if (s.ok() && ::rename(tmp.c_str(), out_path.c_str()) != 0) s = Status::FromErrno("rename to " + out_path, errno);
    if (!s.ok()) {
      ::unlink(tmp.c_str());
      Fail(s);
    }
    const size_t slash = out_path.rfind('/');
    Check(io::SyncDir(slash == std::string::npos ? "." : out_path.substr(0, slash == 0 ? 1 : slash)));
  }
  Check(v->Close());
  return 0;
}

void PrintReport(const Common& c, const engine::CheckReport& r, const char* verb) {
  if (c.json) {
    json damage = json::array();
    for (const auto& d : r.damage) {
      json snaps = json::array();
      for (uint64_t s : d.snapshots) snaps.push_back(SnapshotIdString(s));
      damage.push_back({{"segment", format::SegmentFileName(d.segment)}, {"offset", d.offset}, {"end", d.end},
                        {"problem", d.what}, {"chunks", d.chunks.size()}, {"snapshots", snaps}});
    }
    std::cout << json{{"segments", r.segments}, {"blocks", r.blocks}, {"bytes", r.bytes},
                      {"snapshots_checked", r.snapshots_checked}, {"damage", damage}, {"problems", r.problems}, {"notes", r.notes},
                      {"clean", r.clean()}}.dump(2)
              << "\n";
    return;
  }
  for (const auto& d : r.damage) {
    std::string snaps;
    for (uint64_t s : d.snapshots) snaps += (snaps.empty() ? "" : ", ") + SnapshotIdString(s);
    std::printf("DAMAGE %s offset %llu..%llu: %s; %zu chunk(s); snapshots affected: %s\n",
                format::SegmentFileName(d.segment).c_str(), static_cast<unsigned long long>(d.offset),
                static_cast<unsigned long long>(d.end), d.what.c_str(), d.chunks.size(),
                snaps.empty() ? "none" : snaps.c_str());
  }
  for (const auto& p : r.problems) std::printf("PROBLEM %s\n", p.c_str());
  for (const auto& n : r.notes) std::printf("NOTE %s\n", n.c_str());
  if (r.segments == 0 && r.snapshots_checked > 0) {  // one snapshot: its own blocks were read
    std::printf("%s: %llu snapshot checked, every block and stream hash: %s\n", verb,
                static_cast<unsigned long long>(r.snapshots_checked), r.clean() ? "clean" : "DAMAGED");
    return;
  }
  std::printf("%s: %llu segments, %llu blocks, %s, %llu snapshots checked: %s\n", verb,
              static_cast<unsigned long long>(r.segments), static_cast<unsigned long long>(r.blocks),
              Human(r.bytes).c_str(), static_cast<unsigned long long>(r.snapshots_checked),
              r.clean() ? "clean" : "DAMAGED");
}

int CmdVerify(const Common& c, const std::string& ref) {
  engine::RecoverMode mode{false, false};
  auto v = OpenVolume(c, true, mode, false, false);
  engine::CheckOptions o;
  o.decode_data = ref.empty();
  o.stream_hashes = true;
  if (!ref.empty()) o.snapshot = Check(ResolveSnapshot(v->index(), ref)).record.id;
  engine::CheckReport r;
  Check(engine::CheckVolume(v.get(), o, &r));
  PrintReport(c, r, "verify");
  Check(v->Close());
  return r.clean() ? 0 : 3;
}

int CmdFsck(const Common& c, bool repair, bool rebuild) {
  engine::RecoverMode mode{repair, false};
  auto v = OpenVolume(c, false, mode, rebuild, false);
  if (rebuild) {
    std::printf("rebuilt the index from %llu segments: %llu blocks, %llu snapshots\n",
                static_cast<unsigned long long>(v->recovery().segments_scanned),
                static_cast<unsigned long long>(v->recovery().blocks_applied),
                static_cast<unsigned long long>(v->recovery().snapshots_found));
  }
  engine::CheckReport r;
  Check(engine::CheckVolume(v.get(), engine::CheckOptions{}, &r));
  PrintReport(c, r, "fsck");
  if (repair && !r.damage.empty()) {
    uint64_t dropped = 0;
    Check(engine::DropDamagedChunks(v.get(), r, &dropped));
    std::printf("repair: dropped %llu damaged chunk(s) from the index; the next backup holding them stores them again\n",
                static_cast<unsigned long long>(dropped));
  }
  Check(v->Close());
  return r.clean() ? 0 : 3;
}

int CmdInspect(const Common& c, const std::string& segment) {
  auto v = OpenVolume(c, false, engine::RecoverMode{false, false});
  auto segments = Check(engine::ListSegments(v->segments_dir()));
  json out = json::array();
  if (segment.empty()) {
    if (!c.json) std::printf("%-20s  %12s  %-8s  %10s\n", "SEGMENT", "BYTES", "STATE", "BLOCKS");
    for (uint64_t n : segments) {
      auto st = Check(v->index()->GetSegment(n));
      auto f = Check(v->env()->Open(v->segments_dir() + "/" + format::SegmentFileName(n), io::OpenMode::kRead));
      uint64_t size = Check(f->Size());
      const char* state = !st ? "unindexed" : st->sealed ? "sealed" : "active";
      uint64_t blocks = st ? st->blocks : 0;
      if (c.json) {
        out.push_back({{"segment", format::SegmentFileName(n)}, {"bytes", size}, {"state", state}, {"blocks", blocks}});
      } else {
        std::printf("%-20s  %12llu  %-8s  %10llu\n", format::SegmentFileName(n).c_str(),
                    static_cast<unsigned long long>(size), state, static_cast<unsigned long long>(blocks));
      }
    }
  } else {
    uint64_t num = 0;
    if (!format::ParseSegmentFileName(segment, &num)) {
      try {
        num = std::stoull(segment);
      } catch (const std::exception&) {
        Fail(Status::InvalidArgument("segment '" + segment + "': give a number or a seg-NNNNNNNNNNNN.bvs name"));
      }
    }
    auto f = Check(v->env()->Open(v->segments_dir() + "/" + format::SegmentFileName(num), io::OpenMode::kRead));
    engine::FileSource src(f.get());
    Check(src.Init());
    format::SegmentScanner scanner(&src, format::kSegmentHeaderSize, true);
    if (!c.json) std::printf("%12s  %-8s  %10s  %10s  %-5s  %-16s  %s\n", "OFFSET", "TYPE", "STORED", "RAW", "FLAGS", "ID", "STATE");
    for (;;) {
      auto b = Check(scanner.Next());
      if (!b) {
        if (scanner.stop() == format::ScanStop::kEnd) break;
        const char* kind = scanner.stop() == format::ScanStop::kTorn ? "torn-tail" : "corrupt";
        if (c.json) {
          out.push_back({{"offset", scanner.stop_offset()}, {"state", kind}, {"problem", scanner.problem().message()}});
        } else {
          std::printf("%12llu  %-8s  %s\n", static_cast<unsigned long long>(scanner.stop_offset()), kind,
                      scanner.problem().message().c_str());
        }
        if (scanner.stop() != format::ScanStop::kCorrupt) break;
        scanner.Resume();
        continue;
      }
      const auto& h = b->header;
      std::string flags = std::string(h.compressed() ? "z" : "-") + (h.encrypted() ? "e" : "-");
      std::string id = h.type == format::BlockType::kData ? engine::ShortId(h.id)
                       : (h.type == format::BlockType::kRecipe || h.type == format::BlockType::kSnapshotCommit ||
                          h.type == format::BlockType::kSnapshotDeletion)
                           ? SnapshotIdString(format::SnapshotIdFromBlockId(h.id))
                           : "";
      if (c.json) {
        out.push_back({{"offset", b->offset}, {"type", format::BlockTypeName(h.type)}, {"stored_len", h.stored_len},
                       {"raw_len", h.raw_len}, {"flags", flags}, {"id", id}, {"state", "ok"}});
      } else {
        std::printf("%12llu  %-8s  %10u  %10u  %-5s  %-16s  ok\n", static_cast<unsigned long long>(b->offset),
                    format::BlockTypeName(h.type), h.stored_len, h.raw_len, flags.c_str(), id.c_str());
      }
    }
  }
  if (c.json) std::cout << out.dump(2) << "\n";
  Check(v->Close());
  return 0;
}

}  // namespace
}  // namespace bv::tool

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

  CLI11_PARSE(app, argc, argv);
  if (init->parsed()) return CmdInit(c, encryption, id_algo, avg, segment_mib);
  if (put->parsed()) return CmdPut(c, source, file, label, time);
  if (ls->parsed()) return CmdLs(c, source, since, until);
  if (get->parsed()) return CmdGet(c, ref, out_path, range, stream);
  if (verify->parsed()) return CmdVerify(c, ref);
  if (fsck->parsed()) return CmdFsck(c, repair, rebuild);
  if (inspect->parsed()) return CmdInspect(c, segment);
  return 1;
}
