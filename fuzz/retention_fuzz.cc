// libFuzzer target: the retention rules as bvd reads them from a PRUNE request's options
// (SetRetentionRule, ParseKeepDuration) and applies them (ApplyRetention) to snapshot times made
// from the input. Properties: never crashes; a duration it accepts prints as a duration it reads
// back the same; an accepted policy decides every snapshot once, newest first, keeps the newest,
// and keeps at least min_keep of them.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "engine/retention.h"

namespace {

constexpr size_t kSnapshotsMax = 64;

uint64_t Take64(const uint8_t** p, size_t* n) {
  uint64_t v = 0;
  const size_t k = *n < 8 ? *n : 8;
  std::memcpy(&v, *p, k);
  *p += k;
  *n -= k;
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bv::engine;
  // "rule=value;rule=value;…|" then 8-byte times.
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const size_t bar = all.find('|');
  const std::string_view rules = all.substr(0, bar);
  RetentionPolicy policy;
  size_t at = 0;
  while (at <= rules.size()) {
    const size_t end = std::min(rules.find(';', at), rules.size());
    const std::string_view item = rules.substr(at, end - at);
    const size_t eq = item.find('=');
    if (eq != std::string_view::npos) {
      const std::string_view value = item.substr(eq + 1);
      (void)SetRetentionRule(&policy, RetentionRuleOfKey(item.substr(0, eq)), value);
      if (auto d = ParseKeepDuration(value); d.ok()) {
        auto again = ParseKeepDuration(d->ToString());
        BV_ASSERT(again.ok() && again->years == d->years && again->months == d->months && again->days == d->days &&
                  again->hours == d->hours);
      }
    }
    at = end + 1;
  }
  if (bar == std::string_view::npos) return 0;
  const uint8_t* p = data + bar + 1;
  size_t n = size - bar - 1;
  const int64_t now = static_cast<int64_t>(Take64(&p, &n) % (int64_t{1} << 53));
  std::vector<SnapshotTime> times;
  while (n > 0 && times.size() < kSnapshotsMax) {
    // Times from 1970 to about 2255, where snapshot times live.
    times.push_back(SnapshotTime{times.size(), static_cast<int64_t>(Take64(&p, &n) % (int64_t{9} << 51))});
  }
  auto decided = ApplyRetention(times, policy, now);
  if (!decided.ok()) return 0;
  BV_ASSERT(decided->size() == times.size());
  size_t kept = 0;
  for (size_t i = 0; i < decided->size(); i++) {
    kept += (*decided)[i].keep;
    if (i > 0) BV_ASSERT((*decided)[i - 1].time_us >= (*decided)[i].time_us);
  }
  BV_ASSERT(decided->empty() || (*decided)[0].keep);
  BV_ASSERT(kept >= std::min<size_t>(times.size(), static_cast<size_t>(policy.min_keep)));
  return 0;
}
