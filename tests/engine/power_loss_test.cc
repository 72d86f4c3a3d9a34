// [CRASH-2] A power cut in the middle of a backup: bytes not covered by an fdatasync are lost or
// torn (io::FaultInjectionEnv). Every acknowledged snapshot must restore exactly, nothing partial
// may be listed, and the volume must take new backups.
#include <gtest/gtest.h>

#include <random>

#include "engine/check.h"
#include "io/fault_injection_env.h"
#include "tests/test_util.h"

namespace bv::engine {
namespace {

using test::FailingInput;

TEST(PowerLoss, AcknowledgedSnapshotsSurviveAndNothingPartialAppears) {
  const uint64_t base_seed = test::SeedFromEnvironment();
  uint64_t trials_with_loss = 0, trials_with_cut = 0;
  for (int trial = 0; trial < 12; trial++) {
    const uint64_t seed = base_seed + static_cast<uint64_t>(trial);
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    test::TestVolume tv;
    engine::InitOptions io;
    io.segment_size = 8 << 20;  // rotations happen inside the trial
    ASSERT_OK(tv.Init(io));
    std::map<uint64_t, std::string> acked;
    auto fault = std::make_shared<io::FaultInjectionEnv>(io::Env::Create(test::TestBackend()));
    {
      engine::OpenOptions o;
      o.env = fault;
      ASSERT_OK_AND_ASSIGN(auto v, tv.Open(o));
      const int puts = 1 + static_cast<int>(rng() % 3);
      for (int i = 0; i < puts; i++) {
        std::string d = test::RandomBytes((1 + rng() % 6) << 20, rng());
        ASSERT_OK_AND_ASSIGN(auto rec, test::PutString(v.get(), "pl/" + std::to_string(i), d));
        acked[rec.id] = std::move(d);
      }
      // A put that dies part way: blocks were written, nothing after the last sync is durable.
      // It must get past the pipeline's window (about 20 MiB in flight) to have appended
      // anything, and stay under the 64 MiB intermediate sync.
      const std::string doomed = test::RandomBytes(60 << 20, rng());
      FailingInput in(doomed, (24 + rng() % 36) << 20);
      engine::PutOptions po;
      po.source = "pl/doomed";
      po.take_back_on_failure = false;  // the process dies: nothing is cleaned up
      ASSERT_FALSE(engine::Put(v.get(), po, {{"", &in}}).ok());
      // The process dies: no Close, no clean marker.
    }
    ASSERT_OK_AND_ASSIGN(uint64_t dropped, fault->SimulatePowerLoss(seed));
    trials_with_loss += dropped > 0;

    ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
    trials_with_cut += v->recovery().truncated_bytes > 0;
    std::vector<uint64_t> listed;
    ASSERT_OK(v->index()->ForEachSnapshot("", [&](const SnapshotEntry& e) {
      listed.push_back(e.record.id);
      return true;
    }));
    ASSERT_EQ(listed.size(), acked.size());
    for (uint64_t id : listed) {
      ASSERT_TRUE(acked.count(id)) << "snapshot " << id << " was never acknowledged";
      ASSERT_OK_AND_ASSIGN(std::string back, test::GetString(v.get(), id));
      ASSERT_TRUE(back == acked[id]);
    }
    CheckReport r;
    ASSERT_OK(CheckVolume(v.get(), CheckOptions{true, true, {}}, &r));
    ASSERT_TRUE(r.clean()) << (r.damage.empty() ? r.problems.front() : r.damage.front().what);
    const std::string after = test::RandomBytes(3 << 20, seed);
    ASSERT_OK_AND_ASSIGN(auto rec, test::PutString(v.get(), "pl/after", after));
    ASSERT_OK_AND_ASSIGN(std::string back, test::GetString(v.get(), rec.id));
    ASSERT_TRUE(back == after);
  }
  std::printf("power cuts that lost unsynced bytes: %llu of 12; that left a torn tail to cut: %llu\n",
              static_cast<unsigned long long>(trials_with_loss), static_cast<unsigned long long>(trials_with_cut));
  EXPECT_GT(trials_with_loss, 0u);  // otherwise the test tested nothing
}

// [CRASH-1] The process dies at every sync point of a run of puts in turn: at that moment the
// RocksDB index keeps whatever it made durable, the segment loses what it did not sync (all of
// it, or a random part). An index that ran ahead of its segment (a commit indexed before the
// segment's fdatasync) would list a snapshot whose bytes the power cut took. A snapshot that was
// not acknowledged may appear only whole.
TEST(PowerLoss, TheIndexNeverRunsAheadOfItsSegment) {
  const uint64_t base_seed = test::SeedFromEnvironment();
  uint64_t crashed_puts = 0;
  for (uint64_t crash_at = 1; crash_at <= 8; crash_at++) {
    const uint64_t seed = base_seed + crash_at;
    SCOPED_TRACE("crash at sync " + std::to_string(crash_at) + ", seed " + std::to_string(seed));
    test::TestVolume tv;
    engine::InitOptions io;
    io.segment_size = 1 << 20;  // rotations (and their syncs) among the puts
    ASSERT_OK(tv.Init(io));
    std::map<uint64_t, std::string> acked;
    std::map<std::string, std::string> by_source;
    auto fault = std::make_shared<io::FaultInjectionEnv>(io::Env::Create(test::TestBackend()));
    {
      engine::OpenOptions o;
      o.env = fault;
      ASSERT_OK_AND_ASSIGN(auto v, tv.Open(o));
      fault->CrashAtSync(crash_at);
      for (int i = 0; i < 12 && !fault->crashed(); i++) {
        std::string d = test::RandomBytes(300 << 10, seed * 10 + static_cast<uint64_t>(i));
        test::StringInput in(d);
        engine::PutOptions po;
        po.source = "crash/" + std::to_string(i);
        po.take_back_on_failure = false;  // the process is dead: nothing is cleaned up
        by_source[po.source] = d;
        auto rec = engine::Put(v.get(), po, {{"", &in}});
        if (rec.ok()) acked[rec->id] = std::move(d);
      }
      ASSERT_TRUE(fault->crashed()) << "the puts made fewer syncs than the crash point";
      crashed_puts++;
    }
    ASSERT_OK((crash_at % 2 == 0 ? fault->DropUnsynced() : fault->SimulatePowerLoss(seed)).status());
    ASSERT_OK_AND_ASSIGN(auto v, tv.Open());
    std::map<uint64_t, std::string> listed;
    ASSERT_OK(v->index()->ForEachSnapshot("", [&](const SnapshotEntry& e) {
      listed[e.record.id] = e.record.source;
      return true;
    }));
    for (const auto& [id, d] : acked) EXPECT_TRUE(listed.count(id)) << "acknowledged " << format::SnapshotIdHex(id) << " lost";
    for (const auto& [id, source] : listed) {
      auto back = test::GetString(v.get(), id);
      ASSERT_TRUE(back.ok()) << source << (acked.count(id) ? "" : ", never acknowledged,") << " is listed but broken: "
                             << back.status().ToString();
      ASSERT_TRUE(*back == by_source[source]) << source;
    }
    CheckReport r;
    ASSERT_OK(CheckVolume(v.get(), CheckOptions{true, true, {}}, &r));
    EXPECT_TRUE(r.clean()) << (r.damage.empty() ? r.problems.front() : r.damage.front().what);
  }
  EXPECT_EQ(crashed_puts, 8u);
}

}  // namespace
}  // namespace bv::engine
