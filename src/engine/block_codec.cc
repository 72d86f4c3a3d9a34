// ZSTD_c_literalCompressionMode is in zstd's experimental API.
#define ZSTD_STATIC_LINKING_ONLY
#include "engine/block_codec.h"

#include <sodium.h>
#include <zstd.h>

#include <cstring>
#include <memory>

#include "engine/aead.h"

namespace bv::engine {

namespace {

// Has zstd Huffman-code literals whatever the match sampling. The experimental API's values may
// move between releases, so the switch is set only where the library gives it the range it had
// when BV was built.
bool KeepCodingLiterals(ZSTD_CCtx* c) {
  const ZSTD_bounds b = ZSTD_cParam_getBounds(ZSTD_c_literalCompressionMode);
  if (ZSTD_isError(b.error) || b.lowerBound != ZSTD_ps_auto || b.upperBound != ZSTD_ps_disable) return false;
  return !ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_literalCompressionMode, ZSTD_ps_enable));
}

struct ZstdContexts {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_DCtx* d = ZSTD_createDCtx();
  int c_level = 0;  // what c is set up for; 0: nothing yet
  ~ZstdContexts() {
    ZSTD_freeCCtx(c);
    ZSTD_freeDCtx(d);
  }
  // The compression context, set up for `level` (parameters stay set between chunks).
  ZSTD_CCtx* Compressor(int level) {
    if (c_level != level) {
      ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters);
      BV_ASSERT(!ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level)));
      if (level == 1) {
        BV_ASSERT(!ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_hashLog, kLevel1HashLog)));
        BV_ASSERT(!ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_minMatch, kLevel1MinMatch)));
        if (KeepCodingLiterals(c)) {
          BV_ASSERT(!ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_targetLength, kLevel1TargetLength)));
        }
      }
      c_level = level;
    }
    return c;
  }
  // n bytes of scratch space; it only grows, so no call pays for filling it.
  char* Scratch(size_t n) {
    if (scratch.size() < n) scratch.resize(n);
    return scratch.data();
  }

 private:
  std::string scratch;
};

// One set per thread: contexts are reused across chunks and never shared.
ZstdContexts& Contexts() {
  thread_local ZstdContexts ctx;
  return ctx;
}

void AdBytes(const format::BlockHeader& h, char ad[format::kBlockHeaderSize]) {
  format::BlockHeader copy = h;
  copy.body_checksum = 0;  // not part of the associated data
  format::EncodeBlockHeader(copy, ad);
}

}  // namespace

void BlockCodec::EncodeData(const format::Id& id, std::string_view plain, std::string* out) const {
  BV_ASSERT(!plain.empty() && plain.size() <= format::kChunkSizeMax);
  ZstdContexts& z = Contexts();
  const size_t bound = ZSTD_compressBound(plain.size());
  char* scratch = z.Scratch(bound);
  size_t n = ZSTD_compress2(z.Compressor(level_), scratch, bound, plain.data(), plain.size());
  BV_ASSERT(!ZSTD_isError(n));
  format::BlockHeader h;
  h.type = format::BlockType::kData;
  h.id = id;
  h.raw_len = static_cast<uint32_t>(plain.size());
  std::string_view body = plain;
  if (n < plain.size()) {
    h.flags |= format::kFlagCompressed;
    body = std::string_view(scratch, n);
  }
  const size_t start = out->size();
  if (keys_.encrypted) {
    h.flags |= format::kFlagEncrypted;
    h.stored_len = static_cast<uint32_t>(body.size() + format::kTagSize);
    randombytes_buf(h.nonce.data(), h.nonce.size());
    char ad[format::kBlockHeaderSize];
    AdBytes(h, ad);
    out->resize(start + format::kBlockHeaderSize + h.stored_len);
    auto* ct = reinterpret_cast<uint8_t*>(out->data() + start + format::kBlockHeaderSize);
    AeadSeal(keys_.data_key, h.nonce, std::string_view(ad, format::kBlockAdSize), body, ct);
  } else {
    h.stored_len = static_cast<uint32_t>(body.size());
    out->resize(start + format::kBlockHeaderSize);
    out->append(body);
  }
  std::string_view payload(out->data() + start + format::kBlockHeaderSize, h.stored_len);
  h.body_checksum = format::Checksum(payload);
  format::EncodeBlockHeader(h, out->data() + start);
}

namespace {

// The checks every data block passes before it is decoded. Without `check_body`, body_xxh3 is
// left to the caller (the length is still checked).
Status CheckData(const format::BlockHeader& h, std::string_view payload, bool volume_encrypted, bool check_body) {
  if (check_body || payload.size() != h.stored_len) BV_RETURN_IF_ERROR(format::VerifyBlockBody(h, payload));
  if (h.type != format::BlockType::kData) {
    return Status::Corruption(std::string("expected a data block, found a ") + format::BlockTypeName(h.type) +
                              " block");
  }
  if (h.encrypted() != volume_encrypted) {
    return Status::Corruption(h.encrypted() ? "encrypted block in an unencrypted volume"
                                            : "unencrypted block in an encrypted volume");
  }
  if (BlockCodec::StoredPlain(h) && h.raw_len != payload.size()) {
    return Status::Corruption("data block: stored plain in " + std::to_string(payload.size()) +
                              " bytes, header says " + std::to_string(h.raw_len));
  }
  return Status::Ok();
}

}  // namespace

Result<std::string_view> BlockCodec::DecodeChunk(const format::BlockHeader& h, std::string_view payload,
                                                 uint8_t* dst, BodyCheck body_check) const {
  if (StoredPlain(h)) {
    BV_RETURN_IF_ERROR(CheckData(h, payload, keys_.encrypted, true));
    return payload;
  }
  BV_RETURN_IF_ERROR(Decode(h, payload, dst, body_check));
  return std::string_view(reinterpret_cast<const char*>(dst), h.raw_len);
}

Status BlockCodec::DecodeData(const format::BlockHeader& h, std::string_view payload, uint8_t* dst) const {
  return Decode(h, payload, dst, BodyCheck::kAlways);
}

Status BlockCodec::Open(const format::BlockHeader& h, std::string_view payload, uint8_t* target,
                        bool body_checked) const {
  char ad[format::kBlockHeaderSize];
  AdBytes(h, ad);
  if (!AeadOpen(keys_.data_key, h.nonce, std::string_view(ad, format::kBlockAdSize), payload, target)) {
    // Damage on disk reads as a body checksum mismatch; a payload that hashes right was sealed
    // under another key or altered along with its checksum.
    if (!body_checked) BV_RETURN_IF_ERROR(format::VerifyBlockBody(h, payload));
    return Status::Corruption("data block: authentication tag does not verify (wrong key or altered block)");
  }
  return Status::Ok();
}

Status BlockCodec::Authenticate(const format::BlockHeader& h, std::string_view payload) const {
  BV_ASSERT(h.encrypted());
  BV_RETURN_IF_ERROR(CheckData(h, payload, keys_.encrypted, /*check_body=*/false));
  const size_t plain_len = payload.size() - format::kTagSize;
  return Open(h, payload, reinterpret_cast<uint8_t*>(Contexts().Scratch(plain_len)), /*body_checked=*/false);
}

Status BlockCodec::Decode(const format::BlockHeader& h, std::string_view payload, uint8_t* dst,
                          BodyCheck body_check) const {
  const bool check_body = body_check == BodyCheck::kAlways || !h.encrypted();
  BV_RETURN_IF_ERROR(CheckData(h, payload, keys_.encrypted, check_body));
  ZstdContexts& z = Contexts();
  std::string_view body = payload;
  if (h.encrypted()) {
    const size_t plain_len = payload.size() - format::kTagSize;
    uint8_t* target = h.compressed() ? reinterpret_cast<uint8_t*>(z.Scratch(plain_len)) : dst;
    BV_RETURN_IF_ERROR(Open(h, payload, target, check_body));
    if (!h.compressed()) return Status::Ok();
    body = std::string_view(reinterpret_cast<const char*>(target), plain_len);
  } else if (!h.compressed()) {
    std::memcpy(dst, payload.data(), payload.size());
    return Status::Ok();
  }
  size_t n = ZSTD_decompressDCtx(z.d, dst, h.raw_len, body.data(), body.size());
  if (ZSTD_isError(n)) {
    return Status::Corruption(std::string("data block: zstd: ") + ZSTD_getErrorName(n));
  }
  if (n != h.raw_len) {
    return Status::Corruption("data block: decompressed to " + std::to_string(n) + " bytes, header says " +
                              std::to_string(h.raw_len));
  }
  return Status::Ok();
}

}  // namespace bv::engine
