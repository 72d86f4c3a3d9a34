#include "jobs/job_spec.h"

namespace bv::jobs {

const char* JobKindName(JobKind kind) {
  switch (kind) {
    case JobKind::kBackup:
      return "backup";
    case JobKind::kRestore:
      return "restore";
    case JobKind::kPrune:
      return "prune";
    case JobKind::kVerify:
      return "verify";
  }
  return "?";
}

Status ValidateJobName(std::string_view name) {
  if (name.empty() || name.size() > 64) return Status::InvalidArgument("a job name is 1 to 64 bytes");
  for (size_t i = 0; i < name.size(); i++) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && !(i > 0 && (c == '_' || c == '-' || c == '.'))) {
      return Status::InvalidArgument("a job name is a-z, 0-9, '_', '-' and '.', starting with a letter or digit");
    }
  }
  return Status::Ok();
}

}  // namespace bv::jobs
