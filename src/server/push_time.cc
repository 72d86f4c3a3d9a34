#include "server/push_time.h"

#include <limits>

#include "base/time_format.h"

namespace bv::server {

Status CheckPushTime(Role role, engine::Index* index, const std::string& source, int64_t time_us, int64_t now_us) {
  if (role == Role::kAdmin) return Status::Ok();
  if (time_us > now_us + kPushTimeAheadMaxUs) {
    return Status::Denied("time=" + FormatTime(time_us) + " is more than " + std::to_string(kPushTimeAheadMaxUs / 1000000) +
                          " s ahead of the server's clock (" + FormatTime(now_us) + "); a " + RoleName(role) +
                          " token may not date a snapshot in the future");
  }
  if (time_us < now_us - kPushTimeAheadMaxUs) {
    return Status::Denied("time=" + FormatTime(time_us) + " is more than " + std::to_string(kPushTimeAheadMaxUs / 1000000) +
                          " s behind the server's clock (" + FormatTime(now_us) + "); a " + RoleName(role) +
                          " token may not date a snapshot in the past");
  }
  BV_ASSIGN_OR_RETURN(auto newest, index->FindAsOf(source, std::numeric_limits<int64_t>::max()));
  if (!newest) return Status::Ok();
  BV_ASSIGN_OR_RETURN(auto e, index->GetSnapshot(*newest));
  if (e && time_us < e->record.time_us) {
    return Status::Denied("time=" + FormatTime(time_us) + " is before the newest snapshot of " + source + " (" +
                          FormatTime(e->record.time_us) + "); a " + RoleName(role) +
                          " token may not add a snapshot under existing ones");
  }
  return Status::Ok();
}

}  // namespace bv::server
