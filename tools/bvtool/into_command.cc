#include "tools/bvtool/into_command.h"

#include <signal.h>

#include <algorithm>
#include <cstdio>

#include "tools/bvtool/common.h"

namespace bv::tool {

std::unique_ptr<ChildProcess> StartConsumer(const std::vector<std::string>& argv) {
  ::signal(SIGPIPE, SIG_IGN);
  return Check(ChildProcess::Start(argv, ChildProcess::Side::kConsumer));
}

int FinishInto(ChildProcess* consumer, const Status& restore) {
  if (restore.ok()) {
    consumer->ClosePipe();
    const int status = Check(consumer->Wait());
    if (ChildProcess::Succeeded(status)) return 0;
    std::fprintf(stderr, "bvtool: error: %s after reading the whole stream\n", consumer->Describe(status).c_str());
    return ChildProcess::ShellStatus(status);
  }
  // A consumer that ended by itself broke the restore (its input was closed under us); else the
  // restore failed and the consumer must not see the end of its input: killed, then the pipe closes.
  const std::optional<int> ended = consumer->ExitedAlready();
  consumer->Kill();
  consumer->ClosePipe();
  if (ended) {
    std::fprintf(stderr, "bvtool: error: %s before the end of its input (%s)\n", consumer->Describe(*ended).c_str(),
                 restore.ToString().c_str());
    const int status = ChildProcess::ShellStatus(*ended);
    return status != 0 ? status : 1;
  }
  std::fprintf(stderr, "bvtool: error: %s; %s was killed before the end of its input\n", restore.ToString().c_str(),
               consumer->name().c_str());
  return restore.IsCorruption() ? 3 : 1;
}

}  // namespace bv::tool
