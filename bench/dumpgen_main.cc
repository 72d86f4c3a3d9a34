// bv-dumpgen: writes a deterministic pg_dump-like text to standard output.
//   bv-dumpgen --mib 256 [--night 1] [--hard] [--scattered 0.02] [--seed N]
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "bench/dumpgen.h"

int main(int argc, char** argv) {
  CLI::App app{"bv-dumpgen: deterministic pg_dump-like data"};
  bv::bench::DumpSpec spec;
  uint64_t mib = 64;
  bool hard = false;
  app.add_option("--mib", mib, "approximate size of the first night, MiB");
  app.add_option("--seed", spec.seed, "seed");
  app.add_option("--night", spec.night, "0: first night, 1: the next night");
  app.add_flag("--hard", hard, "less compressible rows (random tokens dominate)");
  app.add_option("--scattered", spec.scattered_share, "night 1: share of rows changed uniformly at random");
  app.add_option("--clusters", spec.changed_clusters, "night 1: clusters of changed rows");
  CLI11_PARSE(app, argc, argv);
  spec.target_bytes = mib << 20;
  spec.hardness = hard ? 1 : 0;
  bool ok = true;
  bv::bench::GenerateDump(spec, [&](std::string_view p) {
    size_t done = 0;
    while (ok && done < p.size()) {
      ssize_t n = ::write(STDOUT_FILENO, p.data() + done, p.size() - done);
      if (n <= 0) ok = false;
      else done += static_cast<size_t>(n);
    }
  });
  return ok ? 0 : 1;
}
