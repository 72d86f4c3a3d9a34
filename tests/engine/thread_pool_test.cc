// The worker pool of the write and read pipelines.
#include "engine/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

namespace bv::engine {
namespace {

TEST(ThreadPool, RunsEveryJobAndItsFutureSaysWhenItIsDone) {
  ThreadPool pool(3);
  EXPECT_EQ(pool.size(), 3u);
  std::atomic<int> done{0};
  std::vector<std::future<void>> futures;
  for (int i = 0; i < 1000; i++) futures.push_back(pool.Submit([&] { done++; }));
  for (auto& f : futures) f.get();
  EXPECT_EQ(done.load(), 1000);
}

TEST(ThreadPool, JobsRunSideBySideOnEveryWorker) {
  constexpr int kWorkers = 4;
  ThreadPool pool(kWorkers);
  // Each job waits until all have started: only workers running side by side get there.
  std::atomic<int> started{0};
  std::atomic<int> met{0};
  std::vector<std::future<void>> futures;
  for (int i = 0; i < kWorkers; i++) {
    futures.push_back(pool.Submit([&] {
      started++;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (started.load() < kWorkers && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
      if (started.load() == kWorkers) met++;
    }));
  }
  for (auto& f : futures) f.get();
  EXPECT_EQ(met.load(), kWorkers);
}

TEST(ThreadPool, ZeroThreadsMeansOne) {
  ThreadPool pool(0);
  EXPECT_EQ(pool.size(), 1u);
  bool ran = false;
  pool.Submit([&] { ran = true; }).get();
  EXPECT_TRUE(ran);
  EXPECT_GE(ThreadPool::DefaultThreads(), 1u);
}

TEST(ThreadPool, DestructionRunsTheJobsStillQueued) {
  std::atomic<int> done{0};
  {
    ThreadPool pool(1);
    std::atomic<bool> release{false};
    pool.Submit([&] {
      while (!release.load()) std::this_thread::yield();
    });
    for (int i = 0; i < 100; i++) pool.Submit([&] { done++; });
    release = true;
  }
  EXPECT_EQ(done.load(), 100);
}

}  // namespace
}  // namespace bv::engine
