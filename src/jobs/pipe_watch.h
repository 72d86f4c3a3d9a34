// Ends the use of a command's pipes that would otherwise never end. A command that exits may leave
// behind a process it started in a session or group of its own (`setsid`, a daemon), still holding
// its standard output or input open: reading to the end of that output, or writing into that
// input, would wait for that process, past the job's timeout, since killing the command's group
// does not reach it. Once the command (its group's leader) has exited, a watch gives its pipes
// kOrphanGraceS to reach their end; then what is left of its group is killed and every wait on the
// pipes returns false. The exit is seen through a pidfd; a kernel without pidfds (before 5.3)
// gets no watch.
#pragma once

#include <atomic>
#include <string>
#include <string_view>
#include <thread>

#include "engine/stream_io.h"
#include "io/child_process.h"

namespace bv::jobs {

inline constexpr int kOrphanGraceS = 5;

class PipeWatch {
 public:
  explicit PipeWatch(io::ChildProcess* child, int grace_s = kOrphanGraceS);
  ~PipeWatch();
  PipeWatch(const PipeWatch&) = delete;
  PipeWatch& operator=(const PipeWatch&) = delete;

  // Waits until `fd` can be read (or written); false when the grace after the exit ran out first.
  bool WaitReadable(int fd) { return Wait(fd, false); }
  bool WaitWritable(int fd) { return Wait(fd, true); }
  bool expired() const { return expired_.load(); }
  // What an expired watch saw: "sh exited, but a process it left behind still held its …".
  std::string ExpiredText(const char* pipe) const;

 private:
  bool Wait(int fd, bool write);
  void Watch();

  io::ChildProcess* const child_;
  const int grace_s_;
  int pidfd_ = -1;
  int stop_ = -1;  // an eventfd: readable once the grace ran out
  int done_ = -1;  // an eventfd: readable once the watch is no longer wanted
  std::atomic<bool> expired_{false};
  std::thread thread_;
};

// A command's standard output as an input stream, read under a watch.
class WatchedInput final : public engine::InputStream {
 public:
  WatchedInput(int fd, std::string name, PipeWatch* watch) : fd_(fd), name_(std::move(name)), watch_(watch) {
    engine::GrowIfPipe(fd_);
  }
  Result<size_t> Read(char* dst, size_t n) override;

 private:
  int fd_;
  std::string name_;
  PipeWatch* watch_;
};

// A command's standard input as a sink, written under a watch.
class WatchedSink final : public engine::OutputSink {
 public:
  // Makes our end of the pipe non-blocking.
  WatchedSink(int fd, std::string name, PipeWatch* watch);
  Status Write(std::string_view bytes) override;

 private:
  int fd_;
  std::string name_;
  PipeWatch* watch_;
};

}  // namespace bv::jobs
