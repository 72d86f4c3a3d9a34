// Fuzz target: the RocksDB index's keys and values (format/index_format.h), as the index module
// decodes what it reads back from disk. The first byte picks the decoder; what decodes must
// encode back to the same bytes. Seeds: fuzz/corpus/index/.
#include <cstddef>
#include <cstdint>
#include <string>

#include "format/index_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bv::format;
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 10) {
    case 0:
      if (auto l = DecodeLocation(in); l.ok()) BV_ASSERT(EncodeLocation(*l) == in);
      break;
    case 1:
      if (auto r = DecodeRecipeValue(in); r.ok()) BV_ASSERT(EncodeRecipeValue(*r) == in);
      break;
    case 2:
      if (auto s = DecodeSegmentState(in); s.ok()) BV_ASSERT(EncodeSegmentState(*s) == in);
      break;
    case 3: {
      Location commit;
      if (auto r = DecodeSnapshotValue(in, &commit); r.ok()) BV_ASSERT(EncodeSnapshotValue(commit, *r) == in);
      break;
    }
    case 4:
      if (auto k = DecodeU64Key(in); k.ok()) BV_ASSERT(U64Key(*k) == in);
      break;
    case 5:
      if (auto k = DecodeIdKey(in); k.ok()) BV_ASSERT(IdKey(*k) == in);
      break;
    case 6:
      if (auto k = DecodeSegOffKey(in); k.ok()) BV_ASSERT(SegOffKey(k->first, k->second) == in);
      break;
    case 7:
      if (auto k = DecodeRecipeKey(in); k.ok()) BV_ASSERT(EncodeRecipeKey(*k) == in);
      break;
    case 8:
      if (auto k = DecodeBySourceKey(in); k.ok()) BV_ASSERT(BySourceKey(k->source, k->time_us, k->id) == in);
      break;
    case 9:
      if (auto t = DecodeTombstone(in); t.ok()) BV_ASSERT(EncodeTombstone(*t) == in);
      break;
  }
  return 0;
}
