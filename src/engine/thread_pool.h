// A fixed set of worker threads running queued jobs; the write and read pipelines use it to
// spread hashing, compression and encryption over every core.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

namespace bv::engine {

class ThreadPool {
 public:
  explicit ThreadPool(size_t threads) {
    if (threads == 0) threads = 1;
    for (size_t i = 0; i < threads; i++) workers_.emplace_back([this] { Run(); });
  }
  ~ThreadPool() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  std::future<void> Submit(std::function<void()> job) {
    auto task = std::make_shared<std::packaged_task<void()>>(std::move(job));
    std::future<void> f = task->get_future();
    {
      std::lock_guard lock(mu_);
      jobs_.emplace_back([task] { (*task)(); });
    }
    cv_.notify_one();
    return f;
  }
  size_t size() const { return workers_.size(); }

  // Runs fn once on every worker and returns when all have (each waits for all to start, so no
  // worker takes two): for per-thread state such as an allocator's caches.
  void RunOnEveryWorker(const std::function<void()>& fn) {
    std::latch started(static_cast<ptrdiff_t>(workers_.size()));
    std::vector<std::future<void>> done;
    for (size_t i = 0; i < workers_.size(); i++) {
      done.push_back(Submit([&] {
        started.arrive_and_wait();
        fn();
      }));
    }
    for (auto& f : done) f.wait();
  }

  // Workers for a pipeline on this machine: one per core.
  static size_t DefaultThreads() {
    size_t n = std::thread::hardware_concurrency();
    return n == 0 ? 2 : n;
  }

 private:
  void Run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> workers_;
  bool stopping_ = false;
};

}  // namespace bv::engine
