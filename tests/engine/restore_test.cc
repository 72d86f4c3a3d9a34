// Restore: byte ranges, restores side by side, an output that fails, blocks larger than a read
// buffer, on real volumes through the I/O backend BV_IO names.
#include "engine/restore.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "bench/dumpgen.h"
#include "tests/test_util.h"

namespace bv::engine {
namespace {

using test::GetString;
using test::PutString;
using test::RandomBytes;
using test::TestVolume;

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

TEST(Restore, RestoresByteRanges) {
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

TEST(Restore, RestoresByteRangesAcrossRecipePieces) {
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


TEST(Restore, RestoresRunSideBySide) {
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
TEST(Restore, RestoreStopsCleanlyWhenTheOutputFails) {
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
TEST(Restore, BlocksLargerThanAReadBufferRestore) {
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

}  // namespace
}  // namespace bv::engine
