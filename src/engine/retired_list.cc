#include "engine/retired_list.h"

namespace bv::engine {

namespace {

std::string PathOf(const std::string& dir) { return dir + "/RETIRED"; }

}  // namespace

Result<std::vector<format::SegmentRange>> ReadRetiredList(io::Env* env, const std::string& dir) {
  const std::string path = PathOf(dir);
  if (!env->PathExists(path)) return std::vector<format::SegmentRange>();
  BV_ASSIGN_OR_RETURN(std::string text, env->ReadSmallFile(path, format::kRetiredFileMax));
  auto list = format::DecodeRetired(text);
  if (!list.ok()) return Status::Corruption(dir + "/" + list.status().message());
  return list;
}

Status AddToRetiredList(io::Env* env, const std::string& dir, const std::vector<uint64_t>& segments) {
  BV_ASSIGN_OR_RETURN(std::vector<format::SegmentRange> before, ReadRetiredList(env, dir));
  std::vector<format::SegmentRange> after = format::AddToRanges(before, segments);
  if (after == before) return Status::Ok();
  if (after.size() > format::kRetiredMax) {
    return Status::NoSpace(PathOf(dir) + " would hold more than " + std::to_string(format::kRetiredMax) +
                           " ranges of segment numbers, its most");
  }
  return env->WriteFileAtomic(PathOf(dir), format::EncodeRetired(after), 0644);
}

}  // namespace bv::engine
