// Fuzz target: one block as read from a segment. Header decode, body checksum, and for a data
// block the full decode (tag check, zstd) under a fixed key, as verify and as a restore do it, and the tag
// check alone, as verify's segment pass does; each input as it is and with its checksums made to
// hold (fix_checksums.h). Seeds: fuzz/corpus/block/.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/block_codec.h"
#include "format/block_format.h"
#include "fuzz/fix_checksums.h"

namespace {

void Decode(std::string_view in) {
  using namespace bv;
  auto h = format::DecodeBlockHeader(in);
  if (!h.ok()) return;
  BV_ASSERT(format::ValidateBlockHeader(*h).ok());  // what decodes is valid (asserted in pairs)
  std::string_view payload = in.substr(format::kBlockHeaderSize);
  if (payload.size() < h->stored_len) return;
  payload = payload.substr(0, h->stored_len);
  // The checksum is what a fuzzer cannot forge easily; decode the body either way, as a reader
  // that skipped the check would, to find crashes behind it.
  (void)format::VerifyBlockBody(*h, payload);
  if (h->type == format::BlockType::kData) {
    static engine::VolumeKeys keys = [] {
      engine::VolumeKeys k;
      k.data_key.fill(0x42);
      k.encrypted = true;
      return k;
    }();
    keys.encrypted = h->encrypted();
    engine::BlockCodec codec(keys, 3);
    std::string out(h->raw_len, '\0');
    (void)codec.DecodeData(*h, payload, reinterpret_cast<uint8_t*>(out.data()));
    // As a restore decodes it too (the tag standing for the body checksum) and as a verify does.
    for (auto check : {engine::BodyCheck::kWhenTagFails, engine::BodyCheck::kAlways}) {
      auto chunk = codec.DecodeChunk(*h, payload, reinterpret_cast<uint8_t*>(out.data()), check);
      if (chunk.ok()) BV_ASSERT(chunk->size() == h->raw_len);
    }
    // As a whole-volume verify's segment pass checks an encrypted block: the tag alone.
    if (h->encrypted()) (void)codec.Authenticate(*h, payload);
  }
  // Re-encoding what decoded gives the same header bytes.
  char again[format::kBlockHeaderSize];
  format::EncodeBlockHeader(*h, again);
  BV_ASSERT(std::string_view(again, format::kBlockHeaderSize) == in.substr(0, format::kBlockHeaderSize));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Decode(in);
  // Past the checksums: the field rules, the codec and the AEAD see the mutation.
  Decode(bv::fuzz::FixBlock(in));
  return 0;
}
