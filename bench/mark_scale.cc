// Compaction's mark at scale: a volume whose index holds N chunk entries (default 10 million, as
// a store of ~640 GB of 64 KiB chunks) and one kept snapshot whose recipe pieces, real blocks in
// real segments, reference every one of them. Times the mark (a dry-run compaction: it reads every
// live recipe piece, fills the live set, and sums the live bytes per segment) and reports the
// process's peak resident memory during it, measured from a reset of the peak (clear_refs). Then
// the same for df's per-source figures (engine/source_usage.h: the recipe pieces read twice, and
// the stored size of every distinct chunk looked up).
//
//   build/bench/bv-mark-scale [--entries 10000000] [--dir /var/tmp] [--rounds 3]
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "bench/random_id.h"
#include "engine/compact.h"
#include "engine/source_usage.h"
#include "engine/volume.h"
#include "format/recipe_format.h"

namespace bv::bench {
namespace {

using Clock = std::chrono::steady_clock;

void Must(const Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

// N chunk entries (in segments that hold no data: the mark never reads data blocks), and one
// snapshot whose single stream references them all, 4096 to a recipe piece.
void Fill(engine::Volume* v, uint64_t entries) {
  constexpr uint32_t kChunk = 64 << 10;
  std::mt19937_64 rng(1);
  engine::IndexBatch batch = v->index()->NewBatch();
  const uint64_t snap = 0x5ca1ab1e;
  format::RecipePiece piece;
  uint32_t pieces = 0;
  uint64_t offset = 0;
  auto lane = v->lane()->Lock();
  Must(lane.status(), "lane");
  auto emit = [&] {
    piece.piece_index = pieces;
    piece.stream_offset = offset;
    auto loc = lane->Append(format::EncodeSnapshotBlock(format::BlockType::kRecipe, snap, format::EncodeRecipe(piece)));
    Must(loc.status(), "append recipe");
    lane->pending()->PutRecipe(snap, 0, pieces, offset, *loc);
    offset += uint64_t{kChunk} * piece.entries.size();
    pieces++;
    piece.entries.clear();
    if (pieces % 64 == 0) Must(lane->SyncPoint(false), "sync");
  };
  const auto t0 = Clock::now();
  for (uint64_t i = 0; i < entries; i++) {
    const format::Id id = RandomId(rng);
    // Fake places in segments far above the real ones: the mark only sums them.
    batch.PutChunk(id, engine::Location{1000000 + i / 4000, (i % 4000) * 65536, 40000, 96 + 40000});
    piece.entries.push_back({id, kChunk});
    if (piece.entries.size() == format::kRecipeEntriesMax) emit();
    if (batch.count() >= 100000) {
      Must(v->index()->Write(&batch, false), "index");
      batch = v->index()->NewBatch();
    }
  }
  if (!piece.entries.empty()) emit();
  Must(v->index()->Write(&batch, true), "index");
  format::SnapshotRecord r;
  r.id = snap;
  r.time_us = 1764547200000000;
  r.source = "bench/marked";
  r.streams.push_back(format::StreamInfo{"", offset, {}, entries, pieces});
  auto commit = lane->Append(format::EncodeSnapshotBlock(format::BlockType::kSnapshotCommit, snap, format::EncodeSnapshot(r)));
  Must(commit.status(), "append commit");
  lane->pending()->PutSnapshot(engine::SnapshotEntry{r, *commit});
  Must(lane->SyncPoint(true), "sync");
  std::fprintf(stderr, "filled %llu entries and %u recipe pieces in %.0f s\n", static_cast<unsigned long long>(entries),
               pieces, std::chrono::duration<double>(Clock::now() - t0).count());
}

uint64_t StatusKiB(const char* field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(field, 0) == 0) return std::strtoull(line.c_str() + std::strlen(field), nullptr, 10);
  }
  return 0;
}

// Resets the peak resident memory (VmHWM) to the present (Linux ≥ 4.0).
void ResetPeak() { std::ofstream("/proc/self/clear_refs") << "5"; }

int Main(int argc, char** argv) {
  CLI::App app{"compaction's mark over a large index"};
  uint64_t entries = 10'000'000;
  std::string dir = std::filesystem::temp_directory_path();
  int rounds = 3;
  app.add_option("--entries", entries, "chunk entries in the index");
  app.add_option("--dir", dir, "where the volume goes");
  app.add_option("--rounds", rounds, "marks timed");
  CLI11_PARSE(app, argc, argv);
  const std::string vol = dir + "/bv-mark-scale";
  std::filesystem::remove_all(vol);
  engine::InitOptions init;
  init.master_key = engine::Key{};
  std::string unused;
  Must(engine::Volume::Init(vol, init, &unused), "init");
  engine::OpenOptions open;
  open.master_key = engine::Key{};
  auto v = engine::Volume::Open(vol, open);
  Must(v.status(), "open");
  Fill(v->get(), entries);
  std::printf("entries %llu\n", static_cast<unsigned long long>(entries));
  for (int i = 0; i < rounds; i++) {
    ResetPeak();
    const uint64_t before = StatusKiB("VmRSS:");
    const auto t0 = Clock::now();
    engine::CompactOptions dry;
    dry.dry_run = true;
    auto r = engine::Compact(v->get(), dry);
    Must(r.status(), "mark");
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("mark %d: %.1f s, %llu references, live set %.1f MiB, resident before %.0f MiB, peak %.0f MiB\n", i + 1,
                s, static_cast<unsigned long long>(r->references), static_cast<double>(r->mark_memory_bytes) / (1 << 20),
                static_cast<double>(before) / 1024, static_cast<double>(StatusKiB("VmHWM:")) / 1024);
  }
  for (int i = 0; i < rounds; i++) {
    ResetPeak();
    const uint64_t before = StatusKiB("VmRSS:");
    const auto t0 = Clock::now();
    auto r = engine::UsageBySource(v->get());
    Must(r.status(), "df");
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    const engine::SourceUsage& u = r->begin()->second;
    std::printf("df %d: %.1f s, stored %.1f GiB of which unique %.1f GiB, resident before %.0f MiB, peak %.0f MiB\n",
                i + 1, s, static_cast<double>(u.stored_bytes) / (1 << 30), static_cast<double>(u.unique_bytes) / (1 << 30),
                static_cast<double>(before) / 1024, static_cast<double>(StatusKiB("VmHWM:")) / 1024);
  }
  Must((*v)->Close(), "close");
  std::filesystem::remove_all(vol);
  return 0;
}

}  // namespace
}  // namespace bv::bench

int main(int argc, char** argv) { return bv::bench::Main(argc, argv); }
