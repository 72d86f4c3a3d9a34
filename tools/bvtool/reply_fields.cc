#include "tools/bvtool/reply_fields.h"

#include "tools/bvtool/client.h"
#include "tools/bvtool/common.h"

namespace bv::tool {

uint64_t FieldNumber(const server::Reply& r, const char* key) { return Check(ReplyNumber(r, key)); }

std::string FieldText(const server::Reply& r, const char* key) {
  const std::string* v = r.Field(key);
  return v != nullptr ? *v : "";
}

nlohmann::json SnapshotReplyJson(const server::Reply& r) {
  return {{"id", FieldText(r, "snapshot")},          {"source", FieldText(r, "source")},
          {"time", FieldText(r, "time")},            {"label", FieldText(r, "label")},
          {"streams", FieldNumber(r, "streams")},    {"logical_bytes", FieldNumber(r, "logical")},
          {"stored_bytes", FieldNumber(r, "stored")}, {"new_bytes", FieldNumber(r, "new")}};
}

}  // namespace bv::tool
