// Chunk bytes <-> data blocks: zstd (kept raw when it does not shrink), then XChaCha20-Poly1305
// with the block header's first 72 bytes as associated data, so a block cannot be moved under
// another id or relabelled. Safe to use from many threads at once.
#pragma once

#include <string>
#include <string_view>

#include "engine/keys.h"
#include "format/block_format.h"

namespace bv::engine {

// zstd level 1, by measurement (docs/performance.md, "Compression level"): on dump-like data it
// stores 1–2% more than level 3 and ingests 25–45% faster, and stores no more than Borg's zstd,3.
inline constexpr int kDefaultZstdLevel = 1;
// At level 1 the match finder hashes 5 bytes (zstd's default for inputs this small is 6) into a
// table of 2^11 entries (8 KiB, held in the L1 cache; zstd's is 2^13). On dump-like 64 KiB chunks
// this compresses 19–20% faster than zstd's level 1 and stores 0–0.5% less: the shorter match finds
// the short repeats of dump rows (separators, dates, prefixes), which the smaller table would
// otherwise cost (docs/performance.md, "Compression level"). Only the compressor uses them;
// blocks decode the same.
inline constexpr int kLevel1HashLog = 11;
inline constexpr int kLevel1MinMatch = 5;
// And it samples for matches 3 bytes apart where zstd's level 1 samples 2 apart (zstd's
// targetLength at the fast strategy), with literals still Huffman-coded, which zstd otherwise stops
// once targetLength is set: on dump-like 64 KiB chunks 5–10% faster for 1.5–2.3% more bytes, and
// still within Borg's zstd,3 × 1.05 (docs/performance.md, "Compression level"). Where the library
// cannot be told to keep coding literals, targetLength stays at zstd's own.
inline constexpr int kLevel1TargetLength = 2;

// What a decode of an encrypted block does with body_xxh3 (format-spec §3.2, [BLK-7]): a restore
// lets the AEAD tag, which authenticates the same payload, stand for it and checks it only when the
// tag fails, to say whether the bytes were damaged; a verify checks both. An unencrypted block's
// body_xxh3 is always checked.
enum class BodyCheck { kWhenTagFails, kAlways };

class BlockCodec {
 public:
  BlockCodec(const VolumeKeys& keys, int zstd_level) : keys_(keys), level_(zstd_level) {}

  // Appends a whole data block (header and payload) for chunk `id` to *out.
  void EncodeData(const format::Id& id, std::string_view plain, std::string* out) const;

  // Checks the body checksum and tag, decrypts and decompresses into dst[0..h.raw_len).
  Status DecodeData(const format::BlockHeader& h, std::string_view payload, uint8_t* dst) const;
  // The chunk of a data block, checked as `body_check` says: a block stored as it is (neither compressed
  // nor encrypted) is its own payload and is not copied; any other is decoded into
  // dst[0..h.raw_len). The view is valid as long as payload or dst is.
  Result<std::string_view> DecodeChunk(const format::BlockHeader& h, std::string_view payload, uint8_t* dst,
                                       BodyCheck body_check) const;
  // Checks an encrypted data block's tag, as DecodeChunk with kWhenTagFails does, without
  // decompressing it: a whole-volume verify's segment pass, whose stream pass decodes every block a
  // snapshot references. A block whose tag holds is the one sealed under this volume's key.
  Status Authenticate(const format::BlockHeader& h, std::string_view payload) const;
  static bool StoredPlain(const format::BlockHeader& h) { return !h.compressed() && !h.encrypted(); }

  bool encrypted() const { return keys_.encrypted; }
  int level() const { return level_; }

 private:
  Status Decode(const format::BlockHeader& h, std::string_view payload, uint8_t* dst, BodyCheck body_check) const;
  // Checks the tag and decrypts an encrypted payload into target[0..payload.size() - kTagSize).
  Status Open(const format::BlockHeader& h, std::string_view payload, uint8_t* target, bool body_checked) const;

  const VolumeKeys& keys_;
  int level_;
};

}  // namespace bv::engine
