// A command bvtool runs itself (`push SOURCE -- COMMAND…`, `get SNAPSHOT --into -- COMMAND…`): a
// producer whose standard output is the stream, or a consumer whose standard input is
// (io/child_process.h: its own session and process group, no controlling terminal). If bvtool
// dies, the kernel kills it too, and SIGINT, SIGTERM, SIGHUP and SIGQUIT to bvtool, or any exit,
// kill it before bvtool goes.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "io/child_process.h"

namespace bv::tool {

class ChildProcess {
 public:
  enum class Side {
    kProducer,  // its standard output is our pipe; its standard input is /dev/null
    kConsumer,  // its standard input is our pipe; its standard output is ours
  };

  // Runs argv (no shell; argv[0] is looked up in $PATH). Fails with why if it cannot be run.
  static Result<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv, Side side);
  ~ChildProcess();

  // Our end of the pipe: read a producer's output from it, write a consumer's input to it.
  int fd() const { return side_ == Side::kProducer ? child_->out_fd() : child_->in_fd(); }
  const std::string& name() const { return child_->name(); }
  // Closes our end of a consumer's input: it sees the end of its input. Only once it is whole.
  void ClosePipe() { child_->CloseIn(); }
  Result<int> Wait();
  std::optional<int> ExitedAlready();
  void Kill();
  std::string Describe(int wait_status) const { return child_->Describe(wait_status); }
  static int ShellStatus(int wait_status) { return io::ChildProcess::ShellStatus(wait_status); }
  static bool Succeeded(int wait_status) { return io::ChildProcess::Succeeded(wait_status); }

 private:
  ChildProcess(std::unique_ptr<io::ChildProcess> child, Side side) : child_(std::move(child)), side_(side) {}
  std::unique_ptr<io::ChildProcess> child_;
  const Side side_;
};

}  // namespace bv::tool
