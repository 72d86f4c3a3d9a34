// A volume end to end on real files, real RocksDB and the I/O backend BV_IO names: what goes in
// comes back out, and what Volume itself does on open and close (the index rebuilt, torn tails cut,
// the clean marker, read-only opens, the lock). Restore, check, keys, chunk ids and the index each
// have a test file of their own.
#include "engine/volume.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "bench/dumpgen.h"
#include "engine/check.h"
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

TEST(Volume, IdenticalInputIsStoredOnce) {
  TestVolume tv;
  ASSERT_OK(tv.Init());
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  const std::string data = RandomBytes(8 << 20, 3);
  ASSERT_OK_AND_ASSIGN(auto a, PutString(v.get(), "dup/a", data));
  ASSERT_OK_AND_ASSIGN(auto b, PutString(v.get(), "dup/b", data));
  EXPECT_GT(a.new_bytes, data.size());
  EXPECT_EQ(b.new_bytes, 0u);  // only recipe and commit blocks, which are not chunk bytes
  // Repeats inside one stream are stored once too, but for the chunks where the second copy's cut
  // points fall back in step with the first's. Where that happens depends on the gear seed, which
  // is random per volume: over 150 volumes it cost 40 KiB to 0.7 MiB (median 0.17 MiB), and once
  // 1.2 MiB. Storing the copy again would cost 4 MiB.
  const std::string twice = RandomBytes(4 << 20, 4) + RandomBytes(4 << 20, 4);
  ASSERT_OK_AND_ASSIGN(auto c, PutString(v.get(), "dup/c", twice));
  EXPECT_LT(c.new_bytes, (4u << 20) + (2u << 20));
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

// What a quota limits: the bytes of every segment file, across rotations, with the sealed run
// counted once.
TEST(Volume, StoredBytesCountsEverySegmentAcrossRotations) {
  TestVolume tv;
  InitOptions io;
  io.segment_size = 1 << 20;
  ASSERT_OK(tv.Init(io));
  ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
  for (int i = 0; i < 6; i++) {
    ASSERT_OK(PutString(v.get(), "q/" + std::to_string(i), RandomBytes(700 << 10, 900 + static_cast<uint64_t>(i))).status());
    ASSERT_OK_AND_ASSIGN(uint64_t stored, v->StoredBytes());
    ASSERT_OK_AND_ASSIGN(uint64_t total, v->segment_files()->TotalBytes());
    EXPECT_EQ(stored, total) << "after put " << i;
  }
  ASSERT_OK_AND_ASSIGN(auto segments, v->segment_files()->List());
  EXPECT_GE(segments.size(), 3u);
}

}  // namespace
}  // namespace bv::engine
