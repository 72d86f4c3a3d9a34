// Fuzz target: recipe payloads. What decodes must re-encode to the same bytes.
// Seeds: fuzz/corpus/recipe/.
#include <cstddef>
#include <cstdint>
#include <string>

#include "format/recipe_format.h"
#include "format/segment_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bv::format;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto r = DecodeRecipe(in); r.ok()) BV_ASSERT(EncodeRecipe(*r) == in);
  if (auto s = DecodeSeal(in); s.ok()) BV_ASSERT(EncodeSeal(*s) == in);
  return 0;
}
