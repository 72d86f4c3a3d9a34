#include "engine/retired_list.h"

#include <algorithm>

#include "format/retired_format.h"

namespace bv::engine {

namespace {

std::string PathOf(const std::string& dir) { return dir + "/RETIRED"; }

}  // namespace

Result<std::vector<uint64_t>> ReadRetiredList(io::Env* env, const std::string& dir) {
  const std::string path = PathOf(dir);
  if (!env->PathExists(path)) return std::vector<uint64_t>();
  BV_ASSIGN_OR_RETURN(std::string text, env->ReadSmallFile(path, format::kRetiredFileMax));
  auto list = format::DecodeRetired(text);
  if (!list.ok()) return Status::Corruption(dir + "/" + list.status().message());
  return list;
}

Status AddToRetiredList(io::Env* env, const std::string& dir, const std::vector<uint64_t>& segments) {
  BV_ASSIGN_OR_RETURN(std::vector<uint64_t> removed, ReadRetiredList(env, dir));
  const size_t before = removed.size();
  for (uint64_t segment : segments) {
    if (std::find(removed.begin(), removed.end(), segment) != removed.end()) continue;
    if (removed.size() == format::kRetiredMax) {
      return Status::NoSpace(PathOf(dir) + " holds " + std::to_string(format::kRetiredMax) +
                             " segment numbers, its most: a segment size this small removes too many");
    }
    removed.push_back(segment);
  }
  if (removed.size() == before) return Status::Ok();
  return env->WriteFileAtomic(PathOf(dir), format::EncodeRetired(removed), 0644);
}

}  // namespace bv::engine
