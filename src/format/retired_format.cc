#include "format/retired_format.h"

#include <set>

namespace bv::format {

std::string EncodeRetired(const std::vector<uint64_t>& segments) {
  BV_ASSERT(segments.size() <= kRetiredMax);
  std::string out(kRetiredMagic);
  for (uint64_t n : segments) {
    BV_ASSERT(n >= 1 && n < (uint64_t{1} << 63));
    out += std::to_string(n);
    out += '\n';
  }
  return out;
}

Result<std::vector<uint64_t>> DecodeRetired(std::string_view text) {
  if (text.substr(0, kRetiredMagic.size()) != kRetiredMagic) {
    return Status::Corruption("RETIRED: line 1: not \"BVRETIRED 1\"");
  }
  std::vector<uint64_t> out;
  std::set<uint64_t> seen;
  size_t at = kRetiredMagic.size();
  for (size_t line = 2; at < text.size(); line++) {
    const size_t end = text.find('\n', at);
    const std::string where = "RETIRED: line " + std::to_string(line) + ": ";
    if (end == std::string_view::npos) return Status::Corruption(where + "no end of line");
    const std::string_view digits = text.substr(at, end - at);
    if (digits.empty() || digits.size() > 19 || digits[0] == '0') {
      return Status::Corruption(where + "not a segment number");
    }
    uint64_t n = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return Status::Corruption(where + "not a segment number");
      n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    if (n >= (uint64_t{1} << 63)) return Status::Corruption(where + "segment number out of range");
    if (!seen.insert(n).second) return Status::Corruption(where + "segment " + std::to_string(n) + " twice");
    if (out.size() == kRetiredMax) return Status::Corruption(where + "more than " + std::to_string(kRetiredMax) + " numbers");
    out.push_back(n);
    at = end + 1;
  }
  return out;
}

}  // namespace bv::format
