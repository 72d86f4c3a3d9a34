#include "format/retired_format.h"

#include <algorithm>
#include <set>

namespace bv::format {

namespace {

constexpr uint64_t kNumberEnd = uint64_t{1} << 63;

// A segment number from `digits`, or what is wrong with it.
Result<uint64_t> ParseNumber(std::string_view digits) {
  if (digits.empty() || digits.size() > 19 || digits[0] == '0') return Status::Corruption("not a segment number");
  uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return Status::Corruption("not a segment number");
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n >= kNumberEnd) return Status::Corruption("segment number out of range");
  return n;
}

// Each line of the file after its first, with the text that names it in an error.
template <typename Fn>
Status ForEachLine(std::string_view text, size_t at, Fn fn) {
  for (size_t line = 2; at < text.size(); line++) {
    const size_t end = text.find('\n', at);
    const std::string where = "RETIRED: line " + std::to_string(line) + ": ";
    if (end == std::string_view::npos) return Status::Corruption(where + "no end of line");
    if (Status s = fn(text.substr(at, end - at)); !s.ok()) return Status::Corruption(where + s.message());
    at = end + 1;
  }
  return Status::Ok();
}

Result<std::vector<SegmentRange>> DecodeVersion1(std::string_view text) {
  std::vector<uint64_t> numbers;
  std::set<uint64_t> seen;
  BV_RETURN_IF_ERROR(ForEachLine(text, kRetiredMagicV1.size(), [&](std::string_view digits) -> Status {
    BV_ASSIGN_OR_RETURN(uint64_t n, ParseNumber(digits));
    if (!seen.insert(n).second) return Status::Corruption("segment " + std::to_string(n) + " twice");
    if (numbers.size() == kRetiredMax) return Status::Corruption("more than " + std::to_string(kRetiredMax) + " numbers");
    numbers.push_back(n);
    return Status::Ok();
  }));
  return AddToRanges({}, numbers);
}

}  // namespace

std::string EncodeRetired(const std::vector<SegmentRange>& ranges) {
  BV_ASSERT(ranges.size() <= kRetiredMax);
  std::string out(kRetiredMagic);
  for (size_t i = 0; i < ranges.size(); i++) {
    const SegmentRange& r = ranges[i];
    BV_ASSERT(r.first >= 1 && r.first <= r.last && r.last < kNumberEnd);
    BV_ASSERT(i == 0 || ranges[i - 1].last + 1 < r.first);
    out += std::to_string(r.first);
    if (r.last != r.first) out += "-" + std::to_string(r.last);
    out += '\n';
  }
  return out;
}

Result<std::vector<SegmentRange>> DecodeRetired(std::string_view text) {
  if (text.substr(0, kRetiredMagicV1.size()) == kRetiredMagicV1) return DecodeVersion1(text);
  if (text.substr(0, kRetiredMagic.size()) != kRetiredMagic) {
    return Status::Corruption("RETIRED: line 1: not \"BVRETIRED 2\" (nor version 1)");
  }
  std::vector<SegmentRange> out;
  BV_RETURN_IF_ERROR(ForEachLine(text, kRetiredMagic.size(), [&](std::string_view line) -> Status {
    const size_t dash = line.find('-');
    SegmentRange r;
    BV_ASSIGN_OR_RETURN(r.first, ParseNumber(line.substr(0, dash)));
    r.last = r.first;
    if (dash != std::string_view::npos) {
      BV_ASSIGN_OR_RETURN(r.last, ParseNumber(line.substr(dash + 1)));
      if (r.last <= r.first) return Status::Corruption("range " + std::string(line) + " does not ascend");
    }
    if (!out.empty() && out.back().last + 1 >= r.first) {
      return Status::Corruption("range " + std::string(line) + " does not start above the one before and apart from it");
    }
    if (out.size() == kRetiredMax) return Status::Corruption("more than " + std::to_string(kRetiredMax) + " ranges");
    out.push_back(r);
    return Status::Ok();
  }));
  return out;
}

std::vector<SegmentRange> AddToRanges(std::vector<SegmentRange> ranges, const std::vector<uint64_t>& numbers) {
  for (uint64_t n : numbers) ranges.push_back(SegmentRange{n, n});
  std::sort(ranges.begin(), ranges.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<SegmentRange> out;
  for (const SegmentRange& r : ranges) {
    if (!out.empty() && r.first <= out.back().last + 1) {
      out.back().last = std::max(out.back().last, r.last);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

bool RangesContain(const std::vector<SegmentRange>& ranges, uint64_t n) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), n, [](uint64_t x, const SegmentRange& r) { return x < r.first; });
  return it != ranges.begin() && std::prev(it)->last >= n;
}

}  // namespace bv::format
