#include "format/recipe_format.h"

#include <cstring>

#include "format/coding.h"

namespace bv::format {

std::string EncodeRecipe(const RecipePiece& r) {
  BV_ASSERT(!r.entries.empty() && r.entries.size() <= kRecipeEntriesMax);
  std::string s;
  s.reserve(kRecipeHeaderSize + r.entries.size() * kRecipeEntrySize);
  PutFixed16(&s, r.stream_index);
  PutFixed16(&s, 0);
  PutFixed32(&s, r.piece_index);
  PutFixed64(&s, r.stream_offset);
  PutFixed32(&s, static_cast<uint32_t>(r.entries.size()));
  for (const RecipeEntry& e : r.entries) {
    BV_ASSERT(e.length > 0);
    s.append(reinterpret_cast<const char*>(e.chunk_id.data()), kIdSize);
    PutFixed32(&s, e.length);
  }
  return s;
}

Result<RecipePiece> DecodeRecipe(std::string_view payload) {
  auto bad = [](size_t off, const std::string& why) {
    return Status::Corruption("recipe: " + why + " at offset " + std::to_string(off));
  };
  if (payload.size() < kRecipeHeaderSize) return bad(0, "truncated header");
  const char* p = payload.data();
  RecipePiece r;
  r.stream_index = DecodeFixed16(p);
  if (DecodeFixed16(p + 2) != 0) return bad(2, "reserved field not zero");
  r.piece_index = DecodeFixed32(p + 4);
  r.stream_offset = DecodeFixed64(p + 8);
  const uint32_t count = DecodeFixed32(p + 16);
  if (count == 0 || count > kRecipeEntriesMax) {
    return bad(16, "entry count " + std::to_string(count) + " outside 1.." +
                       std::to_string(kRecipeEntriesMax));
  }
  if (payload.size() != kRecipeHeaderSize + size_t{count} * kRecipeEntrySize) {
    return bad(20, "payload of " + std::to_string(payload.size()) + " bytes does not hold " +
                       std::to_string(count) + " entries");
  }
  r.entries.resize(count);
  uint64_t end = r.stream_offset;
  for (uint32_t i = 0; i < count; i++) {
    const size_t off = kRecipeHeaderSize + size_t{i} * kRecipeEntrySize;
    std::memcpy(r.entries[i].chunk_id.data(), p + off, kIdSize);
    r.entries[i].length = DecodeFixed32(p + off + kIdSize);
    if (r.entries[i].length == 0 || r.entries[i].length > kBlockPayloadMax) {
      return bad(off + kIdSize, "entry " + std::to_string(i) + " length " +
                                    std::to_string(r.entries[i].length) + " is invalid");
    }
    end += r.entries[i].length;
    if (end < r.stream_offset) return bad(off + kIdSize, "stream offset overflows");
  }
  return r;
}

}  // namespace bv::format
