// Batches passed in order from the thread that gathers them (reads blocks from segments or from a
// socket) to the thread that writes them out, each with the future of its decode on the workers.
// At most `max` wait in the window, so memory stays bounded and the gatherer runs that far ahead
// of the output; an output that blocks (a full pipe) then holds up neither the reads nor the
// workers. Either side can end it: the gatherer closes it when it has no more, the writer stops
// it when it gives up.
#pragma once

#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>

namespace bv::engine {

template <typename Batch>
class BatchWindow {
 public:
  explicit BatchWindow(size_t max) : max_(max) {}
  ~BatchWindow() { Drain(); }
  BatchWindow(const BatchWindow&) = delete;
  BatchWindow& operator=(const BatchWindow&) = delete;

  // Gatherer: waits until a batch fits. False once the writer has stopped.
  bool WaitForRoom() {
    std::unique_lock lock(mu_);
    room_.wait(lock, [this] { return queue_.size() < max_ || stopped_; });
    return !stopped_;
  }
  void Push(std::shared_ptr<Batch> b, std::future<void> decoded) {
    std::lock_guard lock(mu_);
    queue_.emplace_back(std::move(b), std::move(decoded));
    ready_.notify_one();
  }
  // Gatherer: no more batches; the writer takes what is queued, then sees the end.
  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    ready_.notify_one();
  }

  // Writer: the next batch once decoded, or null when the window is closed and empty.
  std::shared_ptr<Batch> Pop() {
    std::shared_ptr<Batch> b;
    std::future<void> decoded;
    {
      std::unique_lock lock(mu_);
      ready_.wait(lock, [this] { return !queue_.empty() || closed_; });
      if (queue_.empty()) return nullptr;
      b = std::move(queue_.front().first);
      decoded = std::move(queue_.front().second);
      queue_.pop_front();
    }
    room_.notify_one();
    decoded.get();
    return b;
  }
  // Writer: gives up; the gatherer's next WaitForRoom returns false.
  void Stop() {
    std::lock_guard lock(mu_);
    stopped_ = true;
    room_.notify_one();
  }

  // Drops the batches still queued once their decodes are done: a worker never decodes into a
  // freed batch, and none is left running after a restore returns.
  void Drain() {
    std::deque<std::pair<std::shared_ptr<Batch>, std::future<void>>> queued;
    {
      std::lock_guard lock(mu_);
      queued.swap(queue_);
    }
    for (auto& [b, decoded] : queued) decoded.wait();
  }

  size_t max() const { return max_; }

 private:
  const size_t max_;
  std::mutex mu_;
  std::condition_variable room_, ready_;
  std::deque<std::pair<std::shared_ptr<Batch>, std::future<void>>> queue_;
  bool closed_ = false;
  bool stopped_ = false;
};

}  // namespace bv::engine
