#include "tools/bvtool/common.h"

#include <sodium.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "base/human_bytes.h"
#include "base/time_format.h"
#include "engine/snapshot_ref.h"

namespace bv::tool {

using engine::ResolveSnapshot;
using engine::SnapshotIdString;

Progress::Progress(const char* verb, std::optional<uint64_t> total)
    : verb_(verb), total_(total), on_(isatty(STDERR_FILENO) == 1), start_(Clock::now()) {}

void Progress::Update(uint64_t bytes) {
  if (!on_) return;
  auto now = Clock::now();
  if (now - last_ < std::chrono::milliseconds(250)) return;
  last_ = now;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rate = secs > 0 ? bytes / secs : 0.0;
  if (total_ && *total_ > 0) {
    const double left = rate > 0 && *total_ > bytes ? (*total_ - bytes) / rate : 0.0;
    std::fprintf(stderr, "\r%s %.1f of %.1f MiB (%.0f%%)  %.0f MB/s  %02d:%02d left   ", verb_, bytes / 1048576.0,
                 *total_ / 1048576.0, 100.0 * bytes / *total_, rate / 1e6, static_cast<int>(left) / 60,
                 static_cast<int>(left) % 60);
  } else {
    std::fprintf(stderr, "\r%s %.1f MiB  %.0f MB/s   ", verb_, bytes / 1048576.0, rate / 1e6);
  }
}

Progress::~Progress() {
  if (on_ && last_ != Clock::time_point{}) std::fprintf(stderr, "\n");
}

[[noreturn]] void Fail(const Status& s) {
  std::fprintf(stderr, "bvtool: error: %s\n", s.ToString().c_str());
  std::exit(s.code() == Status::Code::kCorruption ? 3 : 1);
}

void Check(const Status& s) {
  if (!s.ok()) Fail(s);
}

namespace {

io::Backend BackendOf(const Common& c) {
  if (c.io == "sync") return io::Backend::kSync;
  if (c.io == "uring") return io::Backend::kUring;
  return Check(io::BackendFromEnvironment());
}

std::unique_ptr<engine::Volume> Open(const Common& c, bool need_key, engine::RecoverMode mode, bool rebuild,
                                     bool print_notes, bool read_only) {
  engine::OpenOptions o;
  o.read_only = read_only;
  o.key_file = c.key_file;
  o.need_key = need_key;
  o.backend = BackendOf(c);
  o.recover = mode;
  o.rebuild_index = rebuild;
  o.zstd_level = c.zstd_level;
  auto v = Check(engine::Volume::Open(c.dir, o));
  if (print_notes) {
    for (const std::string& note : v->recovery().notes) std::fprintf(stderr, "bvtool: recovery: %s\n", note.c_str());
  }
  return v;
}

}  // namespace

std::unique_ptr<engine::Volume> OpenVolume(const Common& c, bool need_key, engine::RecoverMode mode, bool rebuild,
                                           bool print_notes) {
  return Open(c, need_key, mode, rebuild, print_notes, false);
}

std::unique_ptr<engine::Volume> OpenVolumeToRead(const Common& c, bool need_key, engine::RecoverMode mode,
                                                 bool print_notes) {
  return Open(c, need_key, mode, false, print_notes, true);
}

std::string Hex(const uint8_t* p, size_t n) {
  std::string s(2 * n + 1, '\0');
  sodium_bin2hex(s.data(), s.size(), p, n);
  s.pop_back();
  return s;
}

nlohmann::json SnapshotJson(const format::SnapshotRecord& r) {
  nlohmann::json streams = nlohmann::json::array();
  for (const auto& s : r.streams) {
    streams.push_back({{"name", s.name}, {"length", s.length}, {"hash", Hex(s.hash.data(), s.hash.size())},
                       {"chunks", s.chunk_count}});
  }
  return {{"id", SnapshotIdString(r.id)}, {"source", r.source}, {"time", FormatTime(r.time_us)},
          {"label", r.label}, {"logical_bytes", r.logical_bytes()}, {"stored_bytes", r.stored_bytes},
          {"new_bytes", r.new_bytes}, {"streams", streams}};
}

std::string Human(uint64_t n) { return HumanBytes(n); }


}  // namespace bv::tool
