// Recipe: one piece of a stream's ordered chunk list. A stream of any length is a sequence of
// pieces of at most kRecipeEntriesMax chunks, so no reader or writer holds a whole list.
// Spec: docs/format-spec.md §4.2.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "format/block_format.h"

namespace bv::format {

// stream_index (2) | reserved = 0 (2) | piece_index (4) | stream_offset (8) | count (4)
//   | count x (chunk_id (32) | length (4))
inline constexpr size_t kRecipeHeaderSize = 2 + 2 + 4 + 8 + 4;
inline constexpr size_t kRecipeEntrySize = kIdSize + 4;
inline constexpr uint32_t kRecipeEntriesMax = 4096;
static_assert(kRecipeHeaderSize + kRecipeEntriesMax * kRecipeEntrySize <= kBlockPayloadMax);

struct RecipeEntry {
  Id chunk_id{};
  uint32_t length = 0;  // plaintext bytes of the chunk
  bool operator==(const RecipeEntry&) const = default;
};

struct RecipePiece {
  uint16_t stream_index = 0;
  uint32_t piece_index = 0;
  uint64_t stream_offset = 0;  // where the first entry's bytes start in the stream
  std::vector<RecipeEntry> entries;
  bool operator==(const RecipePiece&) const = default;
};

std::string EncodeRecipe(const RecipePiece& r);
Result<RecipePiece> DecodeRecipe(std::string_view payload);

}  // namespace bv::format
