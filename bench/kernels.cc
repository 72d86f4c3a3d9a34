// Google Benchmark kernels for each stage of the write and read paths.
//   build/bench/bv-kernels --benchmark_min_time=1 [--benchmark_filter=...]
// BV_BENCH_INDEX_ENTRIES (default 1000000) sets the size of the index for the lookup kernel.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <random>

#include <sodium.h>
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_c_literalCompressionMode
#include <zstd.h>

#include "bench/dumpgen.h"
#include "engine/aead.h"
#include "engine/block_codec.h"
#include "engine/chunk_id.h"
#include "engine/chunker.h"
#include "engine/index.h"
#include "engine/keys.h"

namespace bv::bench {
namespace {

const std::string& DumpData() {
  static const std::string data = [] {
    DumpSpec s;
    s.target_bytes = 64 << 20;
    return GenerateDumpString(s);
  }();
  return data;
}

engine::Key TestKey() {
  engine::Key k;
  k.fill(7);
  return k;
}

void BM_Chunker(benchmark::State& state) {
  const std::string& data = DumpData();
  engine::Chunker c(engine::ChunkSizes{}, TestKey());
  for (auto _ : state) {
    size_t pos = 0, n = 0;
    while (pos < data.size()) {
      pos += c.NextCut(reinterpret_cast<const uint8_t*>(data.data()) + pos, data.size() - pos);
      n++;
    }
    benchmark::DoNotOptimize(n);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_Chunker)->Unit(benchmark::kMillisecond);

void BM_ChunkId(benchmark::State& state) {
  const auto algo = static_cast<format::IdAlgo>(state.range(0));
  const std::string chunk = DumpData().substr(0, 64 << 10);
  const engine::Key key = TestKey();
  for (auto _ : state) benchmark::DoNotOptimize(engine::ChunkId(algo, key, chunk));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * chunk.size()));
  state.SetLabel(algo == format::IdAlgo::kBlake2bKeyed ? "blake2b-256 keyed" : "hmac-sha256");
}
BENCHMARK(BM_ChunkId)->Arg(1)->Arg(2);

// Ids of the chunks of one 4 MiB ingest batch of dump text, as the ingest workers take them:
// 0 one by one (ChunkId), 1 all at once (ChunkIds: side by side on the SHA extensions).
void BM_ChunkIds(benchmark::State& state) {
  const std::string_view batch = std::string_view(DumpData()).substr(0, 4 << 20);
  engine::Chunker chunker(engine::ChunkSizes{}, TestKey());
  std::vector<std::string_view> chunks;
  for (size_t pos = 0; pos < batch.size();) {
    const size_t n = chunker.NextCut(reinterpret_cast<const uint8_t*>(batch.data()) + pos, batch.size() - pos);
    chunks.push_back(batch.substr(pos, n));
    pos += n;
  }
  const engine::Key key = TestKey();
  std::vector<format::Id> ids(chunks.size());
  for (auto _ : state) {
    if (state.range(0) == 0) {
      for (size_t i = 0; i < chunks.size(); i++) ids[i] = engine::ChunkId(format::IdAlgo::kHmacSha256, key, chunks[i]);
    } else {
      engine::ChunkIds(format::IdAlgo::kHmacSha256, key, chunks, ids);
    }
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * batch.size()));
  state.SetLabel(state.range(0) == 0 ? "one by one" : "side by side");
}
BENCHMARK(BM_ChunkIds)->Arg(0)->Arg(1);

// Whole data-block encode: zstd at the level given, then XChaCha20-Poly1305, then the checksum.
void BM_BlockEncode(benchmark::State& state) {
  engine::VolumeKeys keys = engine::DeriveKeys(TestKey(), state.range(1) != 0);
  engine::BlockCodec codec(keys, static_cast<int>(state.range(0)));
  const std::string& data = DumpData();
  format::Id id;
  id.fill(1);
  std::string out;
  size_t pos = 0;
  uint64_t stored = 0;
  for (auto _ : state) {
    if (pos + (64 << 10) > data.size()) pos = 0;
    out.clear();
    codec.EncodeData(id, std::string_view(data).substr(pos, 64 << 10), &out);
    stored += out.size();
    pos += 64 << 10;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * (64 << 10)));
  state.counters["ratio"] = static_cast<double>(state.iterations() * (64 << 10)) / static_cast<double>(stored);
}
BENCHMARK(BM_BlockEncode)->Args({1, 1})->Args({1, 0})->Args({3, 1})->Args({3, 0});

// The stages of a block alone, on 64 KiB of dump text. Compress walks the dump chunk by chunk at
// (level, hash log, min match, target length; 0: zstd's own for the input size; a target length
// keeps literals Huffman-coded): (1, 11, 5, 2) is BV's default.
void BM_Compress(benchmark::State& state) {
  const std::string& data = DumpData();
  std::string out(ZSTD_compressBound(64 << 10), '\0');
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, static_cast<int>(state.range(0)));
  if (state.range(1) != 0) ZSTD_CCtx_setParameter(c, ZSTD_c_hashLog, static_cast<int>(state.range(1)));
  if (state.range(2) != 0) ZSTD_CCtx_setParameter(c, ZSTD_c_minMatch, static_cast<int>(state.range(2)));
  if (state.range(3) != 0) {
    ZSTD_CCtx_setParameter(c, ZSTD_c_literalCompressionMode, ZSTD_ps_enable);
    ZSTD_CCtx_setParameter(c, ZSTD_c_targetLength, static_cast<int>(state.range(3)));
  }
  size_t pos = 0;
  uint64_t stored = 0;
  for (auto _ : state) {
    if (pos + (64 << 10) > data.size()) pos = 0;
    const size_t n = ZSTD_compress2(c, out.data(), out.size(), data.data() + pos, 64 << 10);
    benchmark::DoNotOptimize(n);
    stored += n;
    pos += 64 << 10;
  }
  ZSTD_freeCCtx(c);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * (64 << 10)));
  state.counters["ratio"] = static_cast<double>(state.iterations() * (64 << 10)) / static_cast<double>(stored);
}
BENCHMARK(BM_Compress)
    ->Args({1, 0, 0, 0})
    ->Args({1, 12, 0, 0})
    ->Args({1, 12, 5, 0})
    ->Args({1, engine::kLevel1HashLog, engine::kLevel1MinMatch, 0})
    ->Args({1, engine::kLevel1HashLog, engine::kLevel1MinMatch, engine::kLevel1TargetLength})
    ->Args({3, 0, 0, 0});

void BM_Decompress(benchmark::State& state) {
  const std::string chunk = DumpData().substr(0, 64 << 10);
  std::string packed(ZSTD_compressBound(chunk.size()), '\0');
  packed.resize(ZSTD_compress(packed.data(), packed.size(), chunk.data(), chunk.size(), static_cast<int>(state.range(0))));
  std::string out(chunk.size(), '\0');
  ZSTD_DCtx* d = ZSTD_createDCtx();
  for (auto _ : state) {
    benchmark::DoNotOptimize(ZSTD_decompressDCtx(d, out.data(), out.size(), packed.data(), packed.size()));
  }
  ZSTD_freeDCtx(d);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * chunk.size()));
}
BENCHMARK(BM_Decompress)->Arg(1)->Arg(3);

// XChaCha20-Poly1305 over 64 KiB with 72 bytes of associated data, as a block is sealed; bytes
// are the plaintext's. Arg 0: libsodium's; 1: BV's (engine/aead.h: HChaCha20, then OpenSSL's
// ChaCha20-Poly1305), the same bytes.
void BM_Encrypt(benchmark::State& state) {
  const std::string chunk = DumpData().substr(0, 64 << 10);
  std::string out(chunk.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  format::Nonce nonce{};
  const std::string ad(format::kBlockAdSize, 'a');
  const engine::Key key = TestKey();
  for (auto _ : state) {
    if (state.range(0) == 0) {
      unsigned long long clen = 0;
      crypto_aead_xchacha20poly1305_ietf_encrypt(
          reinterpret_cast<unsigned char*>(out.data()), &clen, reinterpret_cast<const unsigned char*>(chunk.data()),
          chunk.size(), reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr, nonce.data(),
          key.data());
    } else {
      engine::AeadSeal(key, nonce, ad, chunk, reinterpret_cast<uint8_t*>(out.data()));
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * chunk.size()));
}
BENCHMARK(BM_Encrypt)->Arg(0)->Arg(1);

void BM_BlockDecode(benchmark::State& state) {
  engine::VolumeKeys keys = engine::DeriveKeys(TestKey(), true);
  engine::BlockCodec codec(keys, 3);
  format::Id id;
  id.fill(1);
  std::string block;
  codec.EncodeData(id, std::string_view(DumpData()).substr(0, 64 << 10), &block);
  auto h = format::DecodeBlockHeader(block);
  std::string out(64 << 10, '\0');
  for (auto _ : state) {
    auto hh = format::DecodeBlockHeader(block);
    benchmark::DoNotOptimize(codec.DecodeData(*hh, std::string_view(block).substr(format::kBlockHeaderSize),
                                              reinterpret_cast<uint8_t*>(out.data())));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * (64 << 10)));
}
BENCHMARK(BM_BlockDecode);

void BM_IndexLookup(benchmark::State& state) {
  static std::unique_ptr<engine::Index> index;
  static uint64_t entries = 0;
  static std::string dir;
  static struct Cleanup {
    ~Cleanup() {
      index.reset();
      std::error_code ec;
      if (!dir.empty()) std::filesystem::remove_all(dir, ec);
    }
  } cleanup;
  if (!index) {
    const char* n = std::getenv("BV_BENCH_INDEX_ENTRIES");
    entries = n ? std::strtoull(n, nullptr, 10) : 1000000;
    dir = (std::filesystem::temp_directory_path() / ("bv-bench-index-" + std::to_string(::getpid()))).string();
    index = std::move(engine::Index::Open(dir, true).value());
    const engine::Key key = TestKey();
    engine::IndexBatch batch = index->NewBatch();
    for (uint64_t i = 0; i < entries; i++) {
      std::string s = std::to_string(i);
      batch.PutChunk(engine::ChunkId(format::IdAlgo::kBlake2bKeyed, key, s), engine::Location{1, i * 4096, 1000, 2000});
      if (batch.count() > 100000) {
        BV_ASSERT(index->Write(&batch, false).ok());
        batch = index->NewBatch();
      }
    }
    BV_ASSERT(index->Write(&batch, true).ok());
  }
  const engine::Key key = TestKey();
  std::mt19937_64 rng(1);
  const bool hit = state.range(0) != 0;
  std::vector<format::Id> ids(1 << 14);
  for (auto& id : ids) {
    id = engine::ChunkId(format::IdAlgo::kBlake2bKeyed, key, std::to_string(hit ? rng() % entries : entries + rng()));
  }
  size_t i = 0;
  for (auto _ : state) {
    auto r = index->GetChunk(ids[i++ & (ids.size() - 1)]);
    benchmark::DoNotOptimize(r);
  }
  state.SetLabel(std::to_string(entries) + (hit ? " entries, hits" : " entries, misses"));
}
BENCHMARK(BM_IndexLookup)->Arg(1)->Arg(0);

}  // namespace
}  // namespace bv::bench

BENCHMARK_MAIN();
