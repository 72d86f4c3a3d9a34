#include "format/block_format.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>

#include "format/coding.h"

namespace bv::format {

namespace {

bool AllZero(const uint8_t* p, size_t n) {
  return std::all_of(p, p + n, [](uint8_t b) { return b == 0; });
}

std::string Hex64(uint64_t v) {
  char b[19];
  std::snprintf(b, sizeof b, "0x%016llx", static_cast<unsigned long long>(v));
  return b;
}

bool IsSnapshotBlock(BlockType t) {
  return t == BlockType::kRecipe || t == BlockType::kSnapshotCommit ||
         t == BlockType::kSnapshotDeletion;
}

}  // namespace

const char* BlockTypeName(BlockType t) {
  switch (t) {
    case BlockType::kData: return "data";
    case BlockType::kRecipe: return "recipe";
    case BlockType::kSnapshotCommit: return "commit";
    case BlockType::kSnapshotDeletion: return "deletion";
    case BlockType::kPadding: return "padding";
    case BlockType::kSeal: return "seal";
    case BlockType::kDelta: return "delta";
  }
  return "unknown";
}

uint64_t Checksum(std::string_view bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

Status ValidateBlockHeader(const BlockHeader& h) {
  auto bad = [](const char* field, size_t off, const std::string& why) {
    return Status::Corruption("block header: " + std::string(field) + " at offset " +
                              std::to_string(off) + " " + why);
  };
  switch (h.type) {
    case BlockType::kData:
    case BlockType::kRecipe:
    case BlockType::kSnapshotCommit:
    case BlockType::kSnapshotDeletion:
    case BlockType::kPadding:
    case BlockType::kSeal:
      break;
    default:  // kDelta is reserved: no version-1 writer produces it.
      return bad("type", 4, "is " + std::to_string(static_cast<int>(h.type)) +
                                ", not a block type of format version 1");
  }
  if (h.flags & ~kFlagsKnown) {
    return bad("flags", 5, "has unknown bits " + std::to_string(h.flags & ~kFlagsKnown));
  }
  if (h.type != BlockType::kData && h.flags != 0) {
    return bad("flags", 5, "must be 0 for a " + std::string(BlockTypeName(h.type)) + " block");
  }
  if (h.stored_len > kBlockPayloadMax) {
    return bad("stored_len", 8, std::to_string(h.stored_len) + " exceeds the maximum " +
                                    std::to_string(kBlockPayloadMax));
  }
  if (h.raw_len > kBlockPayloadMax) {
    return bad("raw_len", 12, std::to_string(h.raw_len) + " exceeds the maximum " +
                                  std::to_string(kBlockPayloadMax));
  }
  if (h.encrypted() && h.stored_len < kTagSize) {
    return bad("stored_len", 8, std::to_string(h.stored_len) + " is shorter than the AEAD tag");
  }
  if (!h.compressed() && !h.encrypted() && h.stored_len != h.raw_len) {
    return bad("raw_len", 12, std::to_string(h.raw_len) + " differs from stored_len " +
                                  std::to_string(h.stored_len) + " in a plain block");
  }
  if (h.encrypted() && !h.compressed() && h.stored_len != h.raw_len + kTagSize) {
    return bad("raw_len", 12, std::to_string(h.raw_len) + " does not match stored_len " +
                                  std::to_string(h.stored_len) + " minus the tag");
  }
  if (h.encrypted() == AllZero(h.nonce.data(), kNonceSize)) {
    return bad("nonce", 48, h.encrypted() ? "is zero in an encrypted block"
                                          : "is not zero in an unencrypted block");
  }
  const bool id_zero = AllZero(h.id.data(), kIdSize);
  if (h.type == BlockType::kData) {
    if (id_zero) return bad("id", 16, "is zero in a data block");
    if (h.raw_len == 0) return bad("raw_len", 12, "is 0 in a data block");
  } else if (IsSnapshotBlock(h.type)) {
    if (!AllZero(h.id.data() + 8, kIdSize - 8)) return bad("id", 24, "has non-zero bytes after the snapshot id");
    if (SnapshotIdFromBlockId(h.id) == 0) return bad("id", 16, "snapshot id is 0");
  } else if (!id_zero) {
    return bad("id", 16, "must be zero in a " + std::string(BlockTypeName(h.type)) + " block");
  }
  return Status::Ok();
}

void EncodeBlockHeader(const BlockHeader& h, char out[kBlockHeaderSize]) {
  BV_ASSERT(ValidateBlockHeader(h).ok());
  std::string s;
  s.reserve(kBlockHeaderSize);
  PutFixed32(&s, kBlockMagic);
  PutFixed8(&s, static_cast<uint8_t>(h.type));
  PutFixed8(&s, h.flags);
  PutFixed16(&s, 0);
  PutFixed32(&s, h.stored_len);
  PutFixed32(&s, h.raw_len);
  s.append(reinterpret_cast<const char*>(h.id.data()), kIdSize);
  s.append(reinterpret_cast<const char*>(h.nonce.data()), kNonceSize);
  PutFixed64(&s, 0);
  PutFixed64(&s, h.body_checksum);
  BV_ASSERT(s.size() == kBlockHeaderChecksumOffset);
  PutFixed64(&s, Checksum(s));
  std::memcpy(out, s.data(), kBlockHeaderSize);
}

std::string EncodeBlock(BlockHeader h, std::string_view payload) {
  h.stored_len = static_cast<uint32_t>(payload.size());
  h.body_checksum = Checksum(payload);
  std::string out(kBlockHeaderSize, '\0');
  EncodeBlockHeader(h, out.data());
  out.append(payload);
  return out;
}

Result<BlockHeader> DecodeBlockHeader(std::string_view bytes) {
  if (bytes.size() < kBlockHeaderSize) {
    return Status::Corruption("block header: truncated, " + std::to_string(bytes.size()) +
                              " of " + std::to_string(kBlockHeaderSize) + " bytes");
  }
  const char* p = bytes.data();
  uint32_t magic = DecodeFixed32(p);
  if (magic != kBlockMagic) {
    return Status::Corruption("block header: magic at offset 0 is " + Hex64(magic) +
                              ", not \"BVBK\"");
  }
  uint64_t want = DecodeFixed64(p + kBlockHeaderChecksumOffset);
  uint64_t got = Checksum(bytes.substr(0, kBlockHeaderChecksumOffset));
  if (want != got) {
    return Status::Corruption("block header: header_xxh3 at offset 88 is " + Hex64(want) +
                              " but the header hashes to " + Hex64(got));
  }
  if (DecodeFixed16(p + 6) != 0) return Status::Corruption("block header: reserved at offset 6 is not zero");
  if (DecodeFixed64(p + 72) != 0) return Status::Corruption("block header: reserved at offset 72 is not zero");
  BlockHeader h;
  h.type = static_cast<BlockType>(static_cast<uint8_t>(p[4]));
  h.flags = static_cast<uint8_t>(p[5]);
  h.stored_len = DecodeFixed32(p + 8);
  h.raw_len = DecodeFixed32(p + 12);
  std::memcpy(h.id.data(), p + 16, kIdSize);
  std::memcpy(h.nonce.data(), p + 48, kNonceSize);
  h.body_checksum = DecodeFixed64(p + 80);
  BV_RETURN_IF_ERROR(ValidateBlockHeader(h));
  return h;
}

Status VerifyBlockBody(const BlockHeader& h, std::string_view payload) {
  if (payload.size() != h.stored_len) {
    return Status::Corruption("block body: " + std::to_string(payload.size()) + " bytes, header says " +
                              std::to_string(h.stored_len));
  }
  uint64_t got = Checksum(payload);
  if (got != h.body_checksum) {
    return Status::Corruption("block body: body_xxh3 is " + Hex64(h.body_checksum) +
                              " but the payload hashes to " + Hex64(got));
  }
  return Status::Ok();
}

Id SnapshotIdToBlockId(uint64_t snapshot_id) {
  Id id{};
  for (int i = 0; i < 8; i++) id[i] = static_cast<uint8_t>(snapshot_id >> (8 * i));
  return id;
}

std::string EncodeSnapshotBlock(BlockType type, uint64_t snapshot_id, std::string_view payload) {
  BV_ASSERT(type == BlockType::kRecipe || type == BlockType::kSnapshotCommit || type == BlockType::kSnapshotDeletion);
  BlockHeader h;
  h.type = type;
  h.id = SnapshotIdToBlockId(snapshot_id);
  h.raw_len = static_cast<uint32_t>(payload.size());
  return EncodeBlock(h, payload);
}

uint64_t SnapshotIdFromBlockId(const Id& id) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | id[i];
  return v;
}

}  // namespace bv::format
