// Is the index's cost flat as the store grows? Two volumes side by side: one empty, one whose
// index already holds N chunk entries (default 10 million, random ids, as a store of ~640 GB of
// 64 KiB chunks would). For each: dedup lookup latency (hits and misses, p50/p99/p99.9) and the
// ingest speed of fresh dumps, the volumes taking turns; resident memory with both open.
//
//   build/bench/bv-index-scale [--entries 10000000] [--mib 256] [--rounds 3] [--dir /var/tmp]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "bench/dumpgen.h"
#include "bench/random_id.h"
#include "engine/index.h"
#include "engine/put_session.h"
#include "engine/volume.h"

namespace bv::bench {
namespace {

using Clock = std::chrono::steady_clock;

class StringInput final : public engine::InputStream {
 public:
  explicit StringInput(const std::string& s) : s_(s) {}
  Result<size_t> Read(char* dst, size_t n) override {
    n = std::min(n, s_.size() - at_);
    std::memcpy(dst, s_.data() + at_, n);
    at_ += n;
    return n;
  }

 private:
  const std::string& s_;
  size_t at_ = 0;
};

std::unique_ptr<engine::Volume> Create(const std::string& dir) {
  engine::InitOptions init;
  init.master_key = engine::Key{};
  std::string unused;
  BV_ASSERT(engine::Volume::Init(dir, init, &unused).ok());
  engine::OpenOptions open;
  open.master_key = engine::Key{};
  auto v = engine::Volume::Open(dir, open);
  if (!v.ok()) {
    std::fprintf(stderr, "%s\n", v.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(v).value();
}

// Entries with the ids the seed gives; the i-th id of a seed is the same every time.
void Fill(engine::Volume* v, uint64_t entries, uint64_t seed) {
  std::mt19937_64 rng(seed);
  engine::IndexBatch batch = v->index()->NewBatch();
  const auto t0 = Clock::now();
  for (uint64_t i = 0; i < entries; i++) {
    batch.PutChunk(RandomId(rng), engine::Location{1 + i / 4000, (i % 4000) * 65536, 40000, 96 + 40000});
    if (batch.count() >= 100000) {
      BV_ASSERT(v->index()->Write(&batch, false).ok());
      batch = v->index()->NewBatch();
    }
  }
  BV_ASSERT(v->index()->Write(&batch, true).ok());
  std::fprintf(stderr, "filled %llu entries in %.0f s\n", static_cast<unsigned long long>(entries),
               std::chrono::duration<double>(Clock::now() - t0).count());
}

struct Latency {
  double p50, p99, p999;
};

Latency Lookups(engine::Volume* v, uint64_t entries, uint64_t seed, bool hits, int n) {
  // Hits: ids drawn again from the fill's sequence; misses: ids of another seed.
  std::vector<format::Id> ids;
  std::mt19937_64 rng(hits ? seed : seed + 1000);
  std::mt19937_64 pick(7);
  const uint64_t span = hits ? std::max<uint64_t>(entries, 1) : UINT64_MAX;
  if (hits) {
    // Walk the fill's sequence to sample positions spread over all of it.
    std::vector<uint64_t> at(static_cast<size_t>(n));
    for (auto& a : at) a = pick() % span;
    std::sort(at.begin(), at.end());
    uint64_t i = 0;
    for (uint64_t a : at) {
      format::Id id;
      while (i <= a) {
        id = RandomId(rng);
        i++;
      }
      ids.push_back(id);
    }
    std::shuffle(ids.begin(), ids.end(), pick);
  } else {
    for (int i = 0; i < n; i++) ids.push_back(RandomId(rng));
  }
  std::vector<double> us;
  us.reserve(ids.size());
  for (const auto& id : ids) {
    const auto t0 = Clock::now();
    auto r = v->index()->GetChunk(id);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    BV_ASSERT(r.ok() && r->has_value() == (hits && entries > 0));
  }
  std::sort(us.begin(), us.end());
  auto q = [&](double p) { return us[std::min(us.size() - 1, static_cast<size_t>(p * us.size()))]; };
  return {q(0.5), q(0.99), q(0.999)};
}

double IngestMBs(engine::Volume* v, const std::string& dump, int round) {
  engine::PutOptions o;
  o.source = "bench/db" + std::to_string(round);
  StringInput in(dump);
  const auto t0 = Clock::now();
  auto r = engine::Put(v, o, {{"", &in}});
  BV_ASSERT(r.ok());
  return static_cast<double>(dump.size()) / std::chrono::duration<double>(Clock::now() - t0).count() / 1e6;
}

uint64_t ResidentKiB() {
  FILE* f = std::fopen("/proc/self/status", "r");
  char line[256];
  uint64_t kib = 0;
  while (f && std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "VmRSS:", 6) == 0) kib = std::strtoull(line + 6, nullptr, 10);
  }
  if (f) std::fclose(f);
  return kib;
}

int Main(int argc, char** argv) {
  CLI::App app{"bv-index-scale: index cost, empty store against a large one"};
  uint64_t entries = 10000000, mib = 256;
  int rounds = 3;
  std::string base = std::filesystem::temp_directory_path().string();
  app.add_option("--entries", entries, "chunk entries in the large store's index");
  app.add_option("--mib", mib, "MiB of fresh dump per ingest");
  app.add_option("--rounds", rounds, "ingests per volume, taking turns");
  app.add_option("--dir", base, "where the two volumes go");
  CLI11_PARSE(app, argc, argv);
  const std::string root = base + "/bv-index-scale-" + std::to_string(::getpid());
  std::filesystem::create_directories(root);
  constexpr uint64_t kSeed = 42;
  {
    auto empty = Create(root + "/empty");
    auto large = Create(root + "/large");
    Fill(large.get(), entries, kSeed);
    const std::pair<engine::Volume*, uint64_t> stores[2] = {{empty.get(), 0}, {large.get(), entries}};
    Latency hit[2], miss[2];
    for (int s = 0; s < 2; s++) {
      hit[s] = Lookups(stores[s].first, stores[s].second, kSeed, true, 200000);
      miss[s] = Lookups(stores[s].first, stores[s].second, kSeed, false, 200000);
    }
    // Before any dump is generated: what the two open volumes and their indexes hold.
    std::printf("resident memory with both volumes open, after the lookups: %llu MiB\n",
                static_cast<unsigned long long>(ResidentKiB() / 1024));
    std::vector<double> mbs[2];
    for (int r = 0; r < rounds; r++) {
      DumpSpec spec;
      spec.seed = 100 + static_cast<uint64_t>(r);  // fresh chunks every round
      spec.target_bytes = mib << 20;
      const std::string dump = GenerateDumpString(spec);
      mbs[0].push_back(IngestMBs(empty.get(), dump, r));
      mbs[1].push_back(IngestMBs(large.get(), dump, r));
    }
    std::printf("| store | lookup hit p50 / p99 / p99.9 | lookup miss p50 / p99 / p99.9 | ingest MB/s |\n");
    std::printf("| --- | --- | --- | --- |\n");
    for (int s = 0; s < 2; s++) {
      std::vector<double> m = mbs[s];
      std::sort(m.begin(), m.end());
      std::string all;
      for (double x : mbs[s]) all += (all.empty() ? "" : ", ") + std::to_string(static_cast<int>(x));
      std::printf("| %llu entries | %.1f / %.1f / %.1f µs | %.1f / %.1f / %.1f µs | median %.0f (%s) |\n",
                  static_cast<unsigned long long>(stores[s].second), hit[s].p50, hit[s].p99, hit[s].p999, miss[s].p50,
                  miss[s].p99, miss[s].p999, m[m.size() / 2], all.c_str());
    }
  }
  std::filesystem::remove_all(root);
  return 0;
}

}  // namespace
}  // namespace bv::bench

int main(int argc, char** argv) { return bv::bench::Main(argc, argv); }
