#include "bench/dumpgen.h"

#include <cstdio>
#include <vector>

namespace bv::bench {

namespace {

uint64_t Mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

const char* const kWords[] = {"order",   "shipped", "pending", "customer", "invoice", "refund",  "priority",
                              "express", "standard", "warehouse", "returned", "gift",  "wrapped", "delayed",
                              "paid",    "card",    "transfer", "note",     "call",    "back",    "address",
                              "updated", "the",     "and",      "for",      "with",    "please",  "deliver"};
constexpr size_t kWordCount = sizeof kWords / sizeof kWords[0];
const char* const kDomains[] = {"example.com", "mail.test", "corp.example", "shop.test"};

// One row of table t; `version` > 0 gives the row's changed content.
void Row(const DumpSpec& s, int t, uint64_t i, uint64_t version, std::string* out) {
  uint64_t r = Mix(s.seed * 1000003 + static_cast<uint64_t>(t) * 7919 + i * 31 + version * 0x51ed27);
  char buf[512];
  const int64_t ts = 1700000000 + static_cast<int64_t>(i) * 13 + static_cast<int64_t>(version) * 86400;
  const int64_t day = ts / 86400;
  int n = std::snprintf(buf, sizeof buf, "%llu\t2026-%02d-%02d %02d:%02d:%02d+00\tuser%llu@%s\t%llu.%02llu\t",
                        static_cast<unsigned long long>(i + 1), static_cast<int>(day % 12) + 1,
                        static_cast<int>(day % 28) + 1, static_cast<int>(ts / 3600 % 24), static_cast<int>(ts / 60 % 60),
                        static_cast<int>(ts % 60), static_cast<unsigned long long>(r % 100000),
                        kDomains[(r >> 20) % 4], static_cast<unsigned long long>((r >> 8) % 100000),
                        static_cast<unsigned long long>((r >> 40) % 100));
  out->append(buf, static_cast<size_t>(n));
  // An md5-like token: incompressible hex.
  const int tokens = s.hardness ? 3 : 1;
  for (int k = 0; k < tokens; k++) {
    uint64_t a = Mix(r + k * 2 + 1), b = Mix(r + k * 2 + 2);
    n = std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(a),
                      static_cast<unsigned long long>(b));
    out->append(buf, static_cast<size_t>(n));
  }
  out->push_back('\t');
  const int words = 4 + static_cast<int>((r >> 33) % 12);
  uint64_t w = r;
  for (int k = 0; k < words; k++) {
    w = Mix(w);
    if (k) out->push_back(' ');
    out->append(kWords[w % kWordCount]);
  }
  out->push_back('\n');
}

}  // namespace

void GenerateDump(const DumpSpec& s, const std::function<void(std::string_view)>& out) {
  const uint64_t row_bytes = s.hardness ? 250 : 160;  // measured average row lengths
  const uint64_t rows_per_table = std::max<uint64_t>(1, s.target_bytes / row_bytes / static_cast<uint64_t>(s.tables));
  // Changed clusters and scattered changes apply to night 1, positions fixed by the seed.
  struct Cluster {
    int table;
    uint64_t start;
  };
  std::vector<Cluster> clusters;
  if (s.night > 0) {
    for (int c = 0; c < s.changed_clusters; c++) {
      uint64_t r = Mix(s.seed ^ (0xc1u + static_cast<uint64_t>(c) * 0x1000193));
      clusters.push_back({static_cast<int>(r % static_cast<uint64_t>(s.tables)), (r >> 16) % rows_per_table});
    }
  }
  const uint64_t scatter_threshold = static_cast<uint64_t>(s.scattered_share * 1e9);
  std::string buf;
  buf.reserve(2 << 20);
  buf.append("--\n-- PostgreSQL database dump\n--\n\nSET statement_timeout = 0;\nSET client_encoding = 'UTF8';\n\n");
  for (int t = 0; t < s.tables; t++) {
    char head[256];
    int n = std::snprintf(head, sizeof head,
                          "COPY public.table_%d (id, created_at, email, amount, token, note) FROM stdin;\n", t);
    buf.append(head, static_cast<size_t>(n));
    const uint64_t rows = s.night > 0 ? rows_per_table + static_cast<uint64_t>(rows_per_table * s.appended_share)
                                      : rows_per_table;
    for (uint64_t i = 0; i < rows; i++) {
      uint64_t version = 0;
      if (s.night > 0 && i < rows_per_table) {
        for (const Cluster& c : clusters) {
          if (c.table == t && i >= c.start && i < c.start + static_cast<uint64_t>(s.cluster_rows)) version = 1;
        }
        if (scatter_threshold && Mix(s.seed * 31 + static_cast<uint64_t>(t) * 1000003 + i) % 1000000000 < scatter_threshold) {
          version = 1;
        }
      }
      Row(s, t, i, version, &buf);
      if (buf.size() >= (1 << 20)) {
        out(buf);
        buf.clear();
      }
    }
    buf.append("\\.\n\n");
  }
  buf.append("--\n-- PostgreSQL database dump complete\n--\n");
  out(buf);
}

std::string GenerateDumpString(const DumpSpec& spec) {
  std::string all;
  GenerateDump(spec, [&](std::string_view p) { all.append(p); });
  return all;
}

}  // namespace bv::bench
