// The last bytes a command wrote to standard error, bounded (kStderrTailBytes): what a run's
// record keeps of it, however much it wrote.
#pragma once

#include <mutex>
#include <string>
#include <string_view>

namespace bv::jobs {

class StderrTail {
 public:
  explicit StderrTail(size_t max) : max_(max) {}
  void Append(std::string_view bytes) {
    std::lock_guard<std::mutex> l(mu_);
    total_ += bytes.size();
    if (bytes.size() >= max_) {
      text_.assign(bytes.substr(bytes.size() - max_));
      return;
    }
    text_.append(bytes);
    // Trim in steps of a quarter, not on every append.
    if (text_.size() > max_ + max_ / 4) text_.erase(0, text_.size() - max_);
  }
  // The last `max` bytes, and how many were cut before them.
  std::string Text() const {
    std::lock_guard<std::mutex> l(mu_);
    return text_.size() > max_ ? text_.substr(text_.size() - max_) : text_;
  }
  uint64_t total() const {
    std::lock_guard<std::mutex> l(mu_);
    return total_;
  }

 private:
  const size_t max_;
  mutable std::mutex mu_;
  std::string text_;
  uint64_t total_ = 0;
};

}  // namespace bv::jobs
