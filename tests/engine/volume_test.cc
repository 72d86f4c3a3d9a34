// The engine end to end on real files, real RocksDB and the I/O backend BV_IO names.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <thread>

#include "bench/dumpgen.h"
#include "engine/check.h"
#include "engine/chunk_id.h"
#include "engine/chunker.h"
#include "tests/test_util.h"

namespace bv::engine {
namespace {

using test::GetString;
using test::PutString;
using test::RandomBytes;
using test::TestVolume;

TEST(Volume, RoundTripsAtChunkLimits) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  const ChunkSizes cs;  // a new volume's
  ASSERT_EQ(v->params().chunk_min, cs.min);
  ASSERT_EQ(v->params().chunk_avg, cs.avg);
  ASSERT_EQ(v->params().chunk_max, cs.max);
  for (size_t n : {size_t{0}, size_t{1}, size_t{cs.min} - 1, size_t{cs.min}, size_t{cs.min} + 1, size_t{cs.avg},
                   size_t{cs.max} - 1, size_t{cs.max}, size_t{cs.max} + 1, 3 * size_t{cs.max} + 7, size_t{5} << 20}) {
    const std::string data = RandomBytes(n, n + 1);
    ASSERT_OK_AND_ASSIGN(auto rec, PutString(v.get(), "sizes/" + std::to_string(n), data));
    EXPECT_EQ(rec.logical_bytes(), n);
    ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), rec.id));
    ASSERT_EQ(back.size(), n);
    ASSERT_TRUE(back == data) << "size " << n;
  }
  // Constant bytes give no content cut, so every chunk is cut at max; 17 of them fill the write
  // path's first read exactly (4 MiB + one max chunk) and leave nothing over for the last read.
  for (size_t chunks : {size_t{17}, size_t{34}, size_t{35}}) {
    const std::string flat(chunks * cs.max, 'x');
    ASSERT_OK_AND_ASSIGN(auto rec, PutString(v.get(), "flat/" + std::to_string(chunks), flat));
    ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), rec.id));
    ASSERT_TRUE(back == flat) << chunks;
  }
  ASSERT_OK(v->Close());
}

// Restores each range, plus `random` random ones, and compares with the source bytes.
void ExpectRangesRestore(Volume* v, uint64_t id, const std::string& data, std::vector<ByteRange> ranges,
                         int random, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (int i = 0; i < random; i++) {
    uint64_t a = rng() % data.size(), b = rng() % data.size();
    ranges.push_back({std::min(a, b), std::max(a, b)});
  }
  for (const ByteRange& r : ranges) {
    ASSERT_OK_AND_ASSIGN(std::string part, GetString(v, id, r));
    ASSERT_TRUE(part == data.substr(r.begin, r.end - r.begin)) << r.begin << "-" << r.end;
  }
}

TEST(Volume, RestoresByteRanges) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  const std::string data = RandomBytes(3 << 20, 5);
  ASSERT_OK_AND_ASSIGN(auto rec, PutString(v.get(), "range/src", data));
  ExpectRangesRestore(v.get(), rec.id, data,
                      {{0, 0}, {0, 1}, {0, data.size()}, {data.size() - 1, data.size()}, {65535, 65537},
                       {1 << 20, (1 << 20) + 300000}},
                      20, 1);
  ASSERT_OK_AND_ASSIGN(auto e, v->index()->GetSnapshot(rec.id));
  test::StringSink sink;
  RestoreOptions o;
  o.range = ByteRange{0, data.size() + 1};
  EXPECT_FALSE(Restore(v.get(), *e, o, &sink).ok());
}

TEST(Volume, RestoresByteRangesAcrossRecipePieces) {
  // Small chunks (2 KiB on average), so a 64 MiB stream spans about eight recipe pieces of 4096
  // chunks each.
  TestVolume tv;
  engine::InitOptions io;
  io.chunk_min = 1 << 10;
  io.chunk_avg = 2 << 10;
  io.chunk_max = 8 << 10;
  ASSERT_OK(tv.Init(io));
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  const std::string data = RandomBytes(64 << 20, 8);
  ASSERT_OK_AND_ASSIGN(auto rec, PutString(v.get(), "pieces/src", data));
  ASSERT_GE(rec.streams[0].recipe_pieces, 6u);
  std::vector<uint64_t> starts;
  ASSERT_OK(v->index()->ForEachRecipe(rec.id, 0, [&](uint32_t, uint64_t start, const Location&) {
    starts.push_back(start);
    return Status::Ok();
  }));
  ASSERT_EQ(starts.size(), rec.streams[0].recipe_pieces);
  ExpectRangesRestore(v.get(), rec.id, data,
                      {{starts[3], starts[3] + 1}, {starts[3] - 1, starts[3] + 1}, {starts[2], starts[5]},
                       {starts[5] - 10, data.size()}, {0, starts[1]}, {starts[4], starts[4]}},
                      10, 3);
  ASSERT_OK_AND_ASSIGN(std::string whole, GetString(v.get(), rec.id));
  EXPECT_TRUE(whole == data);
}

// A big stream through a file descriptor, restored and compared piece by piece.
void RoundTripFile(const std::string& path, const std::string& label) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  FdInput in(fd, path);
  PutOptions o;
  o.source = "big/" + label;
  ASSERT_OK_AND_ASSIGN(auto rec, Put(v.get(), o, {{"", &in}}));
  ::close(fd);
  struct CompareSink : OutputSink {
    std::ifstream f;
    uint64_t pos = 0;
    bool same = true;
    Status Write(std::string_view b) override {
      std::string want(b.size(), '\0');
      f.read(want.data(), static_cast<std::streamsize>(want.size()));
      if (static_cast<size_t>(f.gcount()) != b.size() || want != b) same = false;
      pos += b.size();
      return Status::Ok();
    }
  } sink;
  sink.f.open(path, std::ios::binary);
  ASSERT_OK_AND_ASSIGN(auto e, v->index()->GetSnapshot(rec.id));
  ASSERT_OK(Restore(v.get(), *e, RestoreOptions{}, &sink));
  EXPECT_TRUE(sink.same);
  EXPECT_EQ(sink.pos, std::filesystem::file_size(path));
  ASSERT_OK(v->Close());
}

TEST(Volume, RoundTrip256MiBRandom) {
  test::TempDir tmp;
  {
    std::ofstream f(tmp / "in", std::ios::binary);
    for (int i = 0; i < 256; i++) {
      std::string piece = RandomBytes(1 << 20, 1000 + i);
      f.write(piece.data(), static_cast<std::streamsize>(piece.size()));
    }
  }
  RoundTripFile(tmp / "in", "random");
}

TEST(Volume, RoundTrip256MiBDumpText) {
  test::TempDir tmp;
  {
    std::ofstream f(tmp / "in", std::ios::binary);
    bench::DumpSpec spec;
    spec.target_bytes = 256ull << 20;
    bench::GenerateDump(spec, [&](std::string_view p) { f.write(p.data(), static_cast<std::streamsize>(p.size())); });
  }
  RoundTripFile(tmp / "in", "dump");
}

TEST(Volume, NextNightAddsLittle) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  bench::DumpSpec spec;
  spec.target_bytes = 256ull << 20;
  const std::string night0 = bench::GenerateDumpString(spec);
  spec.night = 1;
  const std::string night1 = bench::GenerateDumpString(spec);
  spec.changed_clusters = 0;
  spec.scattered_share = 0.02;
  const std::string scattered = bench::GenerateDumpString(spec);
  ASSERT_OK_AND_ASSIGN(auto r0, PutString(v.get(), "pg/shop", night0));
  ASSERT_OK_AND_ASSIGN(auto r1, PutString(v.get(), "pg/shop", night1));
  ASSERT_OK_AND_ASSIGN(auto r2, PutString(v.get(), "pg/shop-scattered", scattered));
  const double share = static_cast<double>(r1.new_bytes) / static_cast<double>(r0.new_bytes);
  const double scattered_share = static_cast<double>(r2.new_bytes) / static_cast<double>(r0.new_bytes);
  std::printf("night 0: %llu bytes stored; next night (appends + 40 clusters): %llu (%.1f%%); "
              "2%% scattered rows: %llu (%.1f%%)\n",
              static_cast<unsigned long long>(r0.new_bytes), static_cast<unsigned long long>(r1.new_bytes),
              100 * share, static_cast<unsigned long long>(r2.new_bytes), 100 * scattered_share);
  EXPECT_LT(share, 0.10);
  ASSERT_OK_AND_ASSIGN(std::string back1, GetString(v.get(), r1.id));
  EXPECT_TRUE(back1 == night1);
  ASSERT_OK_AND_ASSIGN(std::string back2, GetString(v.get(), r2.id));
  EXPECT_TRUE(back2 == scattered);
}

TEST(Volume, RestoresRunSideBySide) {
  TestVolume tv;
  engine::InitOptions io;
  io.segment_size = 4 << 20;  // the restores read across several segments
  ASSERT_OK(tv.Init(io));
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  std::vector<std::pair<uint64_t, std::string>> snaps;
  for (int i = 0; i < 4; i++) {
    std::string d = RandomBytes(6 << 20, 40 + i);
    ASSERT_OK_AND_ASSIGN(auto rec, PutString(v.get(), "side/" + std::to_string(i), d));
    snaps.emplace_back(rec.id, std::move(d));
  }
  std::vector<std::thread> threads;
  std::atomic<int> exact{0};
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; round++) {
        const auto& [id, d] = snaps[static_cast<size_t>(t + round) % snaps.size()];
        auto back = GetString(v.get(), id);
        if (back.ok() && *back == d) exact++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(exact.load(), 12);
}

// The output runs on the caller's thread while another reads ahead: a sink that fails stops the
// restore with the sink's error, whichever batch it fails on, and a slow sink that keeps every
// batch it is given still gets the whole stream, in order.
TEST(Volume, RestoreStopsCleanlyWhenTheOutputFails) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  const std::string d = RandomBytes(24 << 20, 77);
  ASSERT_OK_AND_ASSIGN(auto rec, PutString(v.get(), "out/fails", d));
  ASSERT_OK_AND_ASSIGN(auto e, v->index()->GetSnapshot(rec.id));
  ASSERT_TRUE(e.has_value());

  class FailingSink final : public OutputSink {
   public:
    explicit FailingSink(size_t limit) : limit_(limit) {}
    Status Write(std::string_view b) override {
      if (written + b.size() > limit_) return Status::IOError("the reader went away");
      written += b.size();
      return Status::Ok();
    }
    size_t written = 0;

   private:
    size_t limit_;
  };
  for (size_t limit : {size_t{0}, size_t{1} << 20, size_t{9} << 20, d.size() - 1}) {
    FailingSink sink(limit);
    Status s = Restore(v.get(), *e, RestoreOptions{}, &sink);
    EXPECT_EQ(s.code(), Status::Code::kIOError) << limit << ": " << s.ToString();
    EXPECT_NE(s.message().find("the reader went away"), std::string::npos) << s.ToString();
    EXPECT_LE(sink.written, limit);
  }

  class HoardingSink final : public OutputSink {
   public:
    Status Write(std::string_view b) override {
      out.append(b);
      return Status::Ok();
    }
    Status WriteHeld(std::span<const std::string_view> pieces, std::shared_ptr<const void> hold) override {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the reader runs ahead
      held.push_back(std::move(hold));
      for (std::string_view p : pieces) out.append(p);
      return Status::Ok();
    }
    std::string out;
    std::vector<std::shared_ptr<const void>> held;
  };
  HoardingSink hoard;
  ASSERT_OK(Restore(v.get(), *e, RestoreOptions{}, &hoard));
  EXPECT_TRUE(hoard.out == d);
  EXPECT_GT(hoard.held.size(), 4u);
}

// Chunks of up to 4 MiB that do not compress are stored in blocks larger than a read buffer
// (1 MiB): each gets a batch of its own, whole streams and ranges alike, unencrypted too.
TEST(Volume, BlocksLargerThanAReadBufferRestore) {
  for (bool encrypt : {true, false}) {
    TestVolume tv;
    engine::InitOptions io;
    io.encrypt = encrypt;
    io.chunk_min = 1 << 20;
    io.chunk_avg = 2 << 20;
    io.chunk_max = 4 << 20;
    ASSERT_OK(tv.Init(io));
    ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
    // Random bytes with a run of dump text between: large incompressible blocks beside
    // compressed ones in the same batches.
    bench::DumpSpec spec;
    spec.target_bytes = 4 << 20;
    std::string d = RandomBytes(9 << 20, 5) + bench::GenerateDumpString(spec).substr(0, 3 << 20) + RandomBytes(7 << 20, 6);
    ASSERT_OK_AND_ASSIGN(auto rec, PutString(v.get(), "large/blocks", d));
    ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), rec.id));
    EXPECT_TRUE(back == d) << "encrypt=" << encrypt;
    ExpectRangesRestore(v.get(), rec.id, d, {{1, 5 << 20}, {(9 << 20) - 3, (13 << 20) + 1}, {d.size() - 7, d.size()}}, 4,
                        encrypt);
  }
}

TEST(Volume, IdenticalInputIsStoredOnce) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  const std::string data = RandomBytes(8 << 20, 3);
  ASSERT_OK_AND_ASSIGN(auto a, PutString(v.get(), "dup/a", data));
  ASSERT_OK_AND_ASSIGN(auto b, PutString(v.get(), "dup/b", data));
  EXPECT_GT(a.new_bytes, data.size());
  EXPECT_EQ(b.new_bytes, 0u);  // only recipe and commit blocks, which are not chunk bytes
  // Repeats inside one stream are stored once too.
  const std::string twice = RandomBytes(4 << 20, 4) + RandomBytes(4 << 20, 4);
  ASSERT_OK_AND_ASSIGN(auto c, PutString(v.get(), "dup/c", twice));
  EXPECT_LT(c.new_bytes, (4u << 20) + (1u << 20));
}

TEST(Volume, PointInTimeAcrossSourcesMatchesAModel) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  std::map<std::string, std::map<int64_t, uint64_t>> model;
  std::mt19937_64 rng(42);
  const std::vector<std::string> sources = {"pg/orders", "pg/users", "mongo/app"};
  for (int i = 0; i < 60; i++) {
    const std::string& src = sources[rng() % sources.size()];
    const int64_t t = 1764547200000000 + static_cast<int64_t>(rng() % (30ull * 86400)) * 1000000;
    if (model[src].count(t)) continue;
    ASSERT_OK_AND_ASSIGN(auto rec, PutString(v.get(), src, RandomBytes(1000 + rng() % 5000, rng()), t));
    model[src][t] = rec.id;
  }
  for (int q = 0; q < 500; q++) {
    const std::string& src = sources[rng() % sources.size()];
    const int64_t t = 1764547200000000 + static_cast<int64_t>(rng() % (32ull * 86400)) * 1000000 - 86400000000;
    auto it = model[src].upper_bound(t);
    std::optional<uint64_t> want;
    if (it != model[src].begin()) want = std::prev(it)->second;
    ASSERT_OK_AND_ASSIGN(auto got, v->index()->FindAsOf(src, t));
    ASSERT_EQ(got, want) << src << " at " << t;
  }
  // Listing one source is newest first and complete.
  std::vector<int64_t> times;
  ASSERT_OK(v->index()->ForEachSnapshot("pg/orders", [&](const SnapshotEntry& e) {
    times.push_back(e.record.time_us);
    return true;
  }));
  ASSERT_EQ(times.size(), model["pg/orders"].size());
  EXPECT_TRUE(std::is_sorted(times.rbegin(), times.rend()));
}

struct Listing {
  std::vector<std::pair<uint64_t, std::string>> rows;  // id, source
  bool operator==(const Listing&) const = default;
};

Listing List(Volume* v) {
  Listing l;
  EXPECT_TRUE(v->index()->ForEachSnapshot("", [&](const SnapshotEntry& e) {
    l.rows.push_back({e.record.id, e.record.source});
    return true;
  }).ok());
  return l;
}

TEST(Volume, IndexRebuiltFromSegmentsAloneIsIdentical) {
  TestVolume tv;
  engine::InitOptions io;
  io.segment_size = 4 << 20;  // several segments, sealed ones among them
  ASSERT_OK(tv.Init(io));
  std::map<uint64_t, std::string> data;
  Listing before;
  {
    ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
    for (int i = 0; i < 8; i++) {
      std::string d = RandomBytes(1 << 20, 50 + i) + RandomBytes(1 << 20, 50);  // some shared chunks
      ASSERT_OK_AND_ASSIGN(auto rec, PutString(v.get(), "rb/" + std::to_string(i % 3), d));
      data[rec.id] = d;
    }
    before = List(v.get());
    ASSERT_OK(v->Close());
  }
  std::filesystem::remove_all(tv.dir() + "/index");
  {
    engine::OpenOptions o;
    auto missing = tv.Open(o);
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.status().message().find("rebuild-index"), std::string::npos) << missing.status().message();
  }
  engine::OpenOptions o;
  o.rebuild_index = true;
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open(o));
  EXPECT_EQ(v->recovery().snapshots_found, 8u);
  EXPECT_EQ(List(v.get()), before);
  for (const auto& [id, d] : data) {
    ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), id));
    ASSERT_TRUE(back == d);
  }
  CheckReport r;
  ASSERT_OK(CheckVolume(v.get(), CheckOptions{true, true, {}}, &r));
  EXPECT_TRUE(r.clean());
}

// Puts snapshots into a volume of small segments and returns the one holding `victim`'s chunks.
class DamageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    engine::InitOptions io;
    io.segment_size = 2 << 20;
    ASSERT_OK(tv.Init(io));
    ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
    for (int i = 0; i < 4; i++) {
      std::string d = RandomBytes(1536 << 10, 70 + i);
      ASSERT_OK_AND_ASSIGN(auto rec, PutString(v.get(), "dmg/" + std::to_string(i), d));
      ids.push_back(rec.id);
      data.push_back(d);
    }
    // The victim: a data block in the middle of the first segment, which holds snapshot 0's chunks.
    ASSERT_OK(v->index()->ForEachChunkAt(1, 0, UINT64_MAX, [&](uint64_t off, const format::Id&) {
      if (victim_offset == 0 && off > 100000) victim_offset = off;
      return Status::Ok();
    }));
    ASSERT_OK(v->Close());
    ASSERT_GT(victim_offset, 0u);
  }

  std::string Segment(uint64_t n) { return tv.dir() + "/segments/" + format::SegmentFileName(n); }

  // Reads the victim block (an encrypted data block), lets `change` alter its header and payload,
  // and writes both back where they were.
  void RewriteVictim(const std::function<void(format::BlockHeader*, std::string*)>& change) {
    std::fstream f(Segment(1), std::ios::in | std::ios::out | std::ios::binary);
    char header[format::kBlockHeaderSize];
    f.seekg(static_cast<std::streamoff>(victim_offset));
    f.read(header, sizeof header);
    auto h = format::DecodeBlockHeader(std::string_view(header, sizeof header));
    ASSERT_OK(h.status());
    ASSERT_TRUE(h->encrypted());
    std::string payload(h->stored_len, '\0');
    f.read(payload.data(), static_cast<std::streamsize>(payload.size()));
    change(&*h, &payload);
    format::EncodeBlockHeader(*h, header);
    f.seekp(static_cast<std::streamoff>(victim_offset));
    f.write(header, sizeof header);
    f.write(payload.data(), static_cast<std::streamsize>(payload.size()));
    ASSERT_TRUE(f.good());
  }

  TestVolume tv;
  std::vector<uint64_t> ids;
  std::vector<std::string> data;
  uint64_t victim_offset = 0;
};

TEST_F(DamageTest, FlippedByteIsNamedBySegmentOffsetAndSnapshot) {
  {
    std::fstream f(Segment(1), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(victim_offset + 200));
    char c;
    f.read(&c, 1);
    c ^= 0x01;
    f.seekp(static_cast<std::streamoff>(victim_offset + 200));
    f.write(&c, 1);
  }
  engine::OpenOptions o;
  o.recover = RecoverMode{false, false};
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open(o));
  for (bool with_key : {false, true}) {
    CheckReport r;
    ASSERT_OK(CheckVolume(v.get(), CheckOptions{with_key, with_key, {}}, &r));
    ASSERT_EQ(r.damage.size(), 1u) << with_key;
    EXPECT_EQ(r.damage[0].segment, 1u);
    EXPECT_EQ(r.damage[0].offset, victim_offset);
    ASSERT_EQ(r.damage[0].chunks.size(), 1u);
    ASSERT_EQ(r.damage[0].snapshots.size(), 1u);
    EXPECT_EQ(r.damage[0].snapshots[0], ids[0]);  // the first snapshot's chunks fill segment 1
    EXPECT_FALSE(r.clean());
  }
  // The damaged snapshot fails to restore with the place named; the others restore exactly.
  auto bad = GetString(v.get(), ids[0]);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("offset " + std::to_string(victim_offset)), std::string::npos)
      << bad.status().message();
  for (size_t i = 1; i < ids.size(); i++) {
    ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), ids[i]));
    EXPECT_TRUE(back == data[i]);
  }
}

// Only a data block's body_xxh3 is wrong (its header checksum made to match): the payload is the
// one sealed, so a restore, which its tag authenticates, gives the bytes back, while verify's
// restore of the stream names the field, and so does fsck's scan ([BLK-7]).
TEST_F(DamageTest, ABodyChecksumAloneWrongRestoresAndFailsVerify) {
  ASSERT_NO_FATAL_FAILURE(RewriteVictim([](format::BlockHeader* h, std::string*) { h->body_checksum ^= 1; }));
  engine::OpenOptions o;
  o.recover = RecoverMode{false, false};
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open(o));
  ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), ids[0]));
  EXPECT_TRUE(back == data[0]);
  CheckReport r;
  ASSERT_OK(CheckVolume(v.get(), CheckOptions{false, true, ids[0]}, &r));
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find("body_xxh3"), std::string::npos) << r.problems[0];
  CheckReport scan;
  ASSERT_OK(CheckVolume(v.get(), CheckOptions{}, &scan));
  ASSERT_EQ(scan.damage.size(), 1u);
  EXPECT_EQ(scan.damage[0].offset, victim_offset);
  EXPECT_NE(scan.damage[0].what.find("body_xxh3"), std::string::npos) << scan.damage[0].what;
}

// A payload altered along with its body_xxh3 passes the scanner; the tag names it, in the
// segment pass of a whole-volume verify (which leaves decompressing to the stream pass) and
// again in the stream pass of the snapshot that holds it.
TEST_F(DamageTest, APayloadAlteredWithItsChecksumIsNamedByItsTag) {
  ASSERT_NO_FATAL_FAILURE(RewriteVictim([](format::BlockHeader* h, std::string* payload) {
    (*payload)[payload->size() / 2] ^= 0x20;
    h->body_checksum = format::Checksum(*payload);
  }));
  engine::OpenOptions o;
  o.recover = RecoverMode{false, false};
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open(o));
  CheckReport r;
  ASSERT_OK(CheckVolume(v.get(), CheckOptions{true, true, std::nullopt}, &r));
  ASSERT_EQ(r.damage.size(), 1u);
  EXPECT_EQ(r.damage[0].offset, victim_offset);
  EXPECT_NE(r.damage[0].what.find("authentication tag"), std::string::npos) << r.damage[0].what;
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find(format::SnapshotIdHex(ids[0])), std::string::npos) << r.problems[0];
  EXPECT_NE(r.problems[0].find("authentication tag"), std::string::npos) << r.problems[0];
}

TEST_F(DamageTest, TruncatedSealedSegmentIsReported) {
  std::filesystem::resize_file(Segment(1), victim_offset + 50);
  engine::OpenOptions o;
  o.recover = RecoverMode{false, false};
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open(o));
  CheckReport r;
  ASSERT_OK(CheckVolume(v.get(), CheckOptions{}, &r));
  ASSERT_FALSE(r.damage.empty());
  EXPECT_EQ(r.damage[0].segment, 1u);
  EXPECT_EQ(r.damage[0].offset, victim_offset);
  // Snapshot 0 lives in the lost part; snapshot 1 starts there before the segment rotated.
  const auto& hit = r.damage[0].snapshots;
  EXPECT_NE(std::find(hit.begin(), hit.end(), ids[0]), hit.end());
  EXPECT_NE(std::find(hit.begin(), hit.end(), ids[1]), hit.end());
  EXPECT_EQ(std::find(hit.begin(), hit.end(), ids[3]), hit.end());
  EXPECT_FALSE(r.clean());
}

// A snapshot is acknowledged, the process dies, and `tail` is what its next write left behind.
// Opening cuts the tail, keeps the snapshot, and the writer continues where valid blocks end.
void ExpectTailIsCut(const std::string& tail) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  const std::string d = RandomBytes(2 << 20, 17);
  uint64_t id;
  {
    ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
    ASSERT_OK_AND_ASSIGN(auto rec, PutString(v.get(), "torn/a", d));
    id = rec.id;
    // No Close: as if the process died.
  }
  const std::string seg = tv.dir() + "/segments/" + format::SegmentFileName(1);
  const auto good_size = std::filesystem::file_size(seg);
  {
    std::ofstream f(seg, std::ios::app | std::ios::binary);
    f.write(tail.data(), static_cast<std::streamsize>(tail.size()));
  }
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  EXPECT_EQ(v->recovery().truncated_bytes, tail.size());
  EXPECT_EQ(std::filesystem::file_size(seg), good_size);
  ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), id));
  EXPECT_TRUE(back == d);
  const std::string d2 = RandomBytes(1 << 20, 18);
  ASSERT_OK_AND_ASSIGN(auto rec2, PutString(v.get(), "torn/b", d2));
  ASSERT_OK_AND_ASSIGN(std::string back2, GetString(v.get(), rec2.id));
  EXPECT_TRUE(back2 == d2);
  CheckReport r;
  ASSERT_OK(CheckVolume(v.get(), CheckOptions{true, true, {}}, &r));
  EXPECT_TRUE(r.clean());
}

std::string PaddingBlock(size_t payload) {
  format::BlockHeader h;
  h.type = format::BlockType::kPadding;
  h.raw_len = static_cast<uint32_t>(payload);
  return format::EncodeBlock(h, std::string(payload, '\0'));
}

TEST(Volume, TornTailIsCutOnOpenAndNothingAcknowledgedIsLost) {
  ExpectTailIsCut(PaddingBlock(5000).substr(0, 3000));  // half a block, as a killed writer leaves it
}

TEST(Volume, HoleBeforeValidBlocksInTheLastSegmentIsATornTail) {
  // Writes in flight together may land out of order: a hole, then valid blocks. Past the last
  // acknowledged commit of the last segment that is a torn tail, not damage.
  ExpectTailIsCut(std::string(8192, '\0') + PaddingBlock(100));
}

TEST(Volume, CleanCloseSkipsTheScanAndACrashDoesNot) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  {
    ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
    ASSERT_TRUE(PutString(v.get(), "c/a", RandomBytes(100000, 1)).ok());
    ASSERT_OK(v->Close());
  }
  {
    ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
    EXPECT_EQ(v->recovery().segments_scanned, 0u);
    ASSERT_TRUE(PutString(v.get(), "c/b", RandomBytes(100000, 2)).ok());
    // Dropped without Close.
  }
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  EXPECT_EQ(v->recovery().segments_scanned, 1u);
  EXPECT_EQ(List(v.get()).rows.size(), 2u);
}

// Every file of the volume with its size and modification time.
std::map<std::string, std::pair<uintmax_t, std::filesystem::file_time_type>> Files(const std::string& dir) {
  std::map<std::string, std::pair<uintmax_t, std::filesystem::file_time_type>> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out[e.path().string()] = {e.file_size(), e.last_write_time()};
  }
  return out;
}

// Puts `data` as ro/a through an open of its own, then closes it or, as a crash does, does not.
// The snapshot's id, 0 if the put failed.
uint64_t PutThenLeave(TestVolume* tv, const std::string& data, bool close) {
  auto v = tv->Open();
  if (!v.ok()) {
    ADD_FAILURE() << v.status().ToString();
    return 0;
  }
  auto rec = PutString(v->get(), "ro/a", data);
  if (!rec.ok()) {
    ADD_FAILURE() << rec.status().ToString();
    return 0;
  }
  if (close) {
    EXPECT_TRUE((*v)->Close().ok());
  }
  return rec->id;
}

TEST(Volume, AReadOnlyOpenOfACleanVolumeWritesNothing) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  const std::string data = RandomBytes(3 << 20, 3);
  // Closed, with the put still in the index's log: a read-write open would flush it.
  const uint64_t id = PutThenLeave(&tv, data, /*close=*/true);
  ASSERT_NE(id, 0u);
  const auto before = Files(tv.dir());
  OpenOptions o;
  o.read_only = true;
  for (int round = 0; round < 2; round++) {
    ASSERT_OK_AND_ASSIGN(auto v, tv.Open(o));
    EXPECT_EQ(v->recovery().segments_scanned, 0u);
    ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), id));
    EXPECT_TRUE(back == data);
    auto put = PutString(v.get(), "ro/b", "more");
    ASSERT_FALSE(put.ok());
    EXPECT_NE(put.status().message().find("read-only"), std::string::npos) << put.status().ToString();
    ASSERT_OK(v->Close());
    EXPECT_EQ(Files(tv.dir()), before) << "round " << round;
  }
  // Writing opens still work after it, and see what was there.
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  EXPECT_EQ(v->recovery().segments_scanned, 0u);
  ASSERT_TRUE(PutString(v.get(), "ro/b", "more").ok());
  EXPECT_EQ(List(v.get()).rows.size(), 2u);
}

TEST(Volume, AReadOnlyOpenAfterACrashRecoversFirst) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  const std::string data = RandomBytes(1 << 20, 4);
  // No clean marker: the tail must be scanned before anything trusts it.
  const uint64_t id = PutThenLeave(&tv, data, /*close=*/false);
  ASSERT_NE(id, 0u);
  OpenOptions o;
  o.read_only = true;
  {
    ASSERT_OK_AND_ASSIGN(auto v, tv.Open(o));
    EXPECT_EQ(v->recovery().segments_scanned, 1u);
    ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), id));
    EXPECT_TRUE(back == data);
    // Recovered as by a writing open, so it can also write, and closes clean.
    ASSERT_TRUE(PutString(v.get(), "ro/b", "more").ok());
    ASSERT_OK(v->Close());
  }
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open(o));
  EXPECT_EQ(v->recovery().segments_scanned, 0u);
  EXPECT_EQ(List(v.get()).rows.size(), 2u);
}

TEST(Volume, SecondOpenIsRefusedWhileLocked) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  auto again = tv.Open();
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("in use"), std::string::npos);
}

TEST(Volume, WrongKeyIsRefusedAndUnencryptedVolumesWork) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  std::string other_key = tv.tmp / "other.key";
  Key k;
  ASSERT_OK(CreateMasterKeyFile(io::SystemEnv(), other_key, &k));
  engine::OpenOptions o;
  o.key_file = other_key;
  o.backend = test::TestBackend();
  auto v = Volume::Open(tv.dir(), o);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("is not the key"), std::string::npos) << v.status().message();

  TestVolume plain;
  engine::InitOptions io;
  io.encrypt = false;
  ASSERT_OK(plain.Init(io));
  EXPECT_FALSE(std::filesystem::exists(plain.key()));
  ASSERT_OK_AND_ASSIGN(auto pv, plain.Open());
  const std::string d = RandomBytes(1 << 20, 99);
  ASSERT_OK_AND_ASSIGN(auto rec, PutString(pv.get(), "plain/x", d));
  ASSERT_OK_AND_ASSIGN(std::string back, GetString(pv.get(), rec.id));
  EXPECT_TRUE(back == d);
}

TEST(Volume, KeyFileInsideTheVolumeIsRefused) {
  TestVolume tv;
  engine::InitOptions o;
  o.key_file = tv.dir() + "/key";
  std::string path;
  auto s = Volume::Init(tv.dir(), o, &path);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("outside"), std::string::npos);
}

TEST(Volume, Blake2bChunkIdsWork) {
  TestVolume tv;
  engine::InitOptions io;
  io.id_algo = format::IdAlgo::kBlake2bKeyed;
  ASSERT_OK(tv.Init(io));
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  const std::string d = RandomBytes(2 << 20, 5);
  ASSERT_OK_AND_ASSIGN(auto rec, PutString(v.get(), "h/x", d));
  ASSERT_OK_AND_ASSIGN(std::string back, GetString(v.get(), rec.id));
  EXPECT_TRUE(back == d);
  Key key;
  key.fill(1);
  EXPECT_NE(ChunkId(format::IdAlgo::kHmacSha256, key, "abc"), ChunkId(format::IdAlgo::kBlake2bKeyed, key, "abc"));
}

TEST(Volume, BadNamesAreRefusedAndNothingIsStored) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  for (const char* bad : {"", "/etc", "a/../b", "x\ny"}) {
    auto r = PutString(v.get(), bad, "data");
    ASSERT_FALSE(r.ok()) << bad;
  }
  EXPECT_TRUE(List(v.get()).rows.empty());
  ASSERT_TRUE(PutString(v.get(), "ok/name", "data").ok());
}

}  // namespace
}  // namespace bv::engine
