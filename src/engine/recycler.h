// Objects of one kind that go back for reuse when their holder is done, so that what they hold
// (multi-megabyte buffers, the capacity of their vectors) is allocated and faulted in once: the
// allocator hands large blocks back to the system, and taking a fresh one costs the kernel a
// fault and a zeroed page for every page touched. Thread-safe; keeps at most `keep_max` idle
// ones and destroys the rest.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

namespace bv::engine {

template <typename T, typename Deleter = std::default_delete<T>>
class Recycler {
 public:
  using Ptr = std::unique_ptr<T, Deleter>;

  explicit Recycler(size_t keep_max) : keep_max_(keep_max) {}

  // An idle one, as its last holder left it; null when none is idle (the caller makes one).
  Ptr Take() {
    std::lock_guard lock(mu_);
    if (idle_.empty()) return nullptr;
    Ptr p = std::move(idle_.back());
    idle_.pop_back();
    return p;
  }

  // Keeps `p` for a later Take, or destroys it (outside the lock) when keep_max are idle.
  void Give(Ptr p) {
    if (!p) return;
    {
      std::lock_guard lock(mu_);
      if (idle_.size() < keep_max_) {
        idle_.push_back(std::move(p));
        return;
      }
    }
    p.reset();
  }

 private:
  const size_t keep_max_;
  std::mutex mu_;
  std::vector<Ptr> idle_;
};

}  // namespace bv::engine
