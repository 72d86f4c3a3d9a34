// A deterministic generator of pg_dump-like text (COPY blocks of several tables), and of the next
// night's version of it: rows appended at the end of each table, clusters of changed rows, and
// optionally rows changed uniformly at random. Used by tests and by the benchmarks.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace bv::bench {

struct DumpSpec {
  uint64_t seed = 1;
  uint64_t target_bytes = 64 << 20;  // approximate size of night 0
  int tables = 4;
  // 0: compressible (text-heavy notes, like real dumps); 1: hard (random tokens dominate).
  int hardness = 0;
  int night = 0;                  // 0 = first night; 1 = the next night
  double appended_share = 0.01;   // night 1: rows appended at the end of each table
  int changed_clusters = 40;      // night 1: clusters of consecutively changed rows, over all tables
  int cluster_rows = 20;
  double scattered_share = 0.0;   // night 1: rows changed uniformly at random
};

// Streams the dump to `out` in pieces of about 1 MiB.
void GenerateDump(const DumpSpec& spec, const std::function<void(std::string_view)>& out);
std::string GenerateDumpString(const DumpSpec& spec);

}  // namespace bv::bench
