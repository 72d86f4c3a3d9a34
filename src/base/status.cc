#include "base/status.h"

#include <cerrno>
#include <cstring>

namespace bv {

Status Status::FromErrno(const std::string& what, int err) {
  if (err == ENOSPC || err == EDQUOT) return Status(Code::kNoSpace, what + ": " + std::strerror(err));
  if (err == ENOENT) return Status(Code::kNotFound, what + ": " + std::strerror(err));
  return Status(Code::kIOError, what + ": " + std::strerror(err));
}

std::string Status::ToString() const {
  const char* prefix = "";
  switch (code_) {
    case Code::kOk: return "OK";
    case Code::kNotFound: prefix = "not found: "; break;
    case Code::kCorruption: prefix = "corruption: "; break;
    case Code::kInvalidArgument: prefix = "invalid argument: "; break;
    case Code::kIOError: prefix = "I/O error: "; break;
    case Code::kNotSupported: prefix = "not supported: "; break;
    case Code::kNoSpace: prefix = "no space: "; break;
    case Code::kQuota: prefix = "quota: "; break;
    case Code::kTimedOut: prefix = "timed out: "; break;
    case Code::kBusy: prefix = "busy: "; break;
    case Code::kDenied: prefix = "denied: "; break;
  }
  return prefix + message_;
}

void AssertFail(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "assertion failed: %s at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace bv
