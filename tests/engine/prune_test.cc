// Prune on a volume: removals as durable as a delete (and never brought back by an index rebuilt
// from the segments), one prune at a time, and a long policy still applied.
#include "engine/prune.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <thread>

#include "tests/test_util.h"

namespace bv::engine {
namespace {

using test::PutString;
using test::TestVolume;

constexpr int64_t kDay = 86'400'000'000;
constexpr int64_t kDec1 = 1764547200000000;  // 2025-12-01T00:00:00Z

class PruneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(tv.Init());
    ASSERT_OK_AND_ASSIGN(v, tv.Open());
    // 2025-12-01, 12-21, 2026-01-10, 01-30, 02-19, 03-11.
    for (int i = 0; i < 6; i++) {
      ASSERT_OK(PutString(v.get(), "db/a", "night " + std::to_string(i), kDec1 + i * 20 * kDay).status());
    }
  }
  size_t Count() {
    size_t n = 0;
    EXPECT_TRUE(v->index()->ForEachSnapshot("db/a", [&](const SnapshotEntry&) { return ++n > 0; }).ok());
    return n;
  }
  Result<size_t> Run(const RetentionPolicy& p, const std::function<Status(const PrunePlan&)>& on_plan = nullptr) {
    return Prune(v.get(), {}, [&](const std::string&) { return &p; }, kDec1 + 200 * kDay, false,
                 on_plan ? on_plan : [](const PrunePlan&) { return Status::Ok(); });
  }
  TestVolume tv;
  std::unique_ptr<Volume> v;
};

TEST_F(PruneTest, RemovalsAreDurableAndARebuiltIndexDoesNotBringThemBack) {
  RetentionPolicy p;
  p.last = 2;
  ASSERT_OK_AND_ASSIGN(size_t removed, Run(p));
  EXPECT_EQ(removed, 4u);
  v.reset();  // no Close: as if the process died
  ASSERT_OK_AND_ASSIGN(v, tv.Open());
  EXPECT_EQ(Count(), 2u);
  ASSERT_OK(v->Close());
  v.reset();
  std::filesystem::remove_all(tv.dir() + "/index");
  OpenOptions o;
  o.rebuild_index = true;
  ASSERT_OK_AND_ASSIGN(v, tv.Open(o));
  EXPECT_EQ(Count(), 2u);
}

TEST_F(PruneTest, OnePruneAtATimeSoTwoCannotUndercutMinKeep) {
  // Each keeps two of the six, and each alone or one after the other leaves two: the newest two
  // (last), then the newest and, by min_keep, the next. Planned together, the first keeps 03-11 and
  // 02-19, the second 03-11 and 12-21 (the newest of 2025), and only 03-11 would be left.
  RetentionPolicy newest_days, oldest_kept;
  newest_days.last = 2;
  newest_days.min_keep = 2;
  oldest_kept.yearly = 2;
  oldest_kept.min_keep = 2;
  std::promise<void> planned, go;
  std::shared_future<void> go_f = go.get_future().share();
  auto first = std::async(std::launch::async, [&] {
    return Run(newest_days, [&](const PrunePlan&) {
      planned.set_value();
      go_f.wait();  // the first prune holds its plan while the second one starts
      return Status::Ok();
    });
  });
  planned.get_future().wait();
  std::atomic<bool> second_done{false};
  auto second = std::async(std::launch::async, [&] {
    auto r = Run(oldest_kept);
    second_done = true;
    return r;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(second_done.load()) << "the second prune planned while the first was between plan and removal";
  go.set_value();
  ASSERT_OK(first.get().status());
  ASSERT_OK(second.get().status());
  EXPECT_EQ(Count(), 2u);
}

TEST_F(PruneTest, APolicyLongerThanADeletionReasonIsStillApplied) {
  RetentionPolicy p;
  p.last = 1;
  ASSERT_OK_AND_ASSIGN(auto plans, PlanPrune(v->index(), {}, [&](const std::string&) { return &p; }, kDec1 + 200 * kDay));
  ASSERT_EQ(plans.size(), 1u);
  plans[0].policy = std::string(400, 'k');  // twelve rules with long durations print this long
  ASSERT_OK_AND_ASSIGN(size_t removed, ApplyPrune(v.get(), plans[0]));
  EXPECT_EQ(removed, 5u);
  EXPECT_EQ(Count(), 1u);
}

}  // namespace
}  // namespace bv::engine
