#include "format/segment_format.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "format/block_format.h"
#include "format/coding.h"

namespace bv::format {

namespace {

Status Bad(const char* what, const char* field, size_t off, const std::string& why) {
  return Status::Corruption(std::string(what) + ": " + field + " at offset " + std::to_string(off) +
                            " " + why);
}

void EncodeParams(const VolumeParams& p, std::string* s) {
  s->append(reinterpret_cast<const char*>(p.uuid.data()), p.uuid.size());
  PutFixed64(s, static_cast<uint64_t>(p.created_us));
  PutFixed8(s, static_cast<uint8_t>(p.chunker));
  PutFixed8(s, static_cast<uint8_t>(p.id_algo));
  PutFixed8(s, static_cast<uint8_t>(p.cipher));
  PutFixed8(s, static_cast<uint8_t>(p.compression));
  PutFixed32(s, p.chunk_min);
  PutFixed32(s, p.chunk_avg);
  PutFixed32(s, p.chunk_max);
  PutFixed64(s, p.segment_size);
  s->append(reinterpret_cast<const char*>(p.key_check.data()), p.key_check.size());
}

std::string EncodeWithMagic(const char magic[8], uint64_t number, const VolumeParams& p) {
  BV_ASSERT(ValidateVolumeParams(p).ok());
  std::string s(magic, 8);
  PutFixed16(&s, kFormatMajor);
  PutFixed16(&s, kFormatMinor);
  PutFixed32(&s, kSegmentHeaderSize);
  PutFixed64(&s, number);
  BV_ASSERT(s.size() == kSegmentParamsOffset);
  EncodeParams(p, &s);
  s.resize(kSegmentChecksumOffset, '\0');
  PutFixed64(&s, Checksum(s));
  BV_ASSERT(s.size() == kSegmentHeaderSize);
  return s;
}

Result<SegmentHeader> DecodeWithMagic(const char* what, const char magic[8], std::string_view b) {
  if (b.size() < kSegmentHeaderSize) {
    return Status::Corruption(std::string(what) + ": truncated, " + std::to_string(b.size()) +
                              " of " + std::to_string(kSegmentHeaderSize) + " bytes");
  }
  b = b.substr(0, kSegmentHeaderSize);
  if (std::memcmp(b.data(), magic, 8) != 0) return Bad(what, "magic", 0, "is wrong");
  const uint64_t want = DecodeFixed64(b.data() + kSegmentChecksumOffset);
  if (Checksum(b.substr(0, kSegmentChecksumOffset)) != want) {
    return Bad(what, "header_xxh3", kSegmentChecksumOffset, "does not match the header");
  }
  Decoder d(b.substr(8));
  uint16_t major, minor;
  uint32_t header_size;
  SegmentHeader h;
  d.GetFixed16(&major);
  d.GetFixed16(&minor);
  d.GetFixed32(&header_size);
  d.GetFixed64(&h.segment_number);
  if (major != kFormatMajor) {
    return Bad(what, "version", 8, "is " + std::to_string(major) + "." + std::to_string(minor) +
                                       "; this reader knows major version " +
                                       std::to_string(kFormatMajor) + " only");
  }
  if (header_size != kSegmentHeaderSize) {
    return Bad(what, "header_size", 12, "is " + std::to_string(header_size) + ", not 4096");
  }
  VolumeParams& p = h.params;
  std::string_view v;
  uint8_t u8;
  uint64_t u64;
  d.GetBytes(16, &v);
  std::memcpy(p.uuid.data(), v.data(), 16);
  d.GetFixed64(&u64);
  p.created_us = static_cast<int64_t>(u64);
  d.GetFixed8(&u8);
  p.chunker = static_cast<ChunkerAlgo>(u8);
  d.GetFixed8(&u8);
  p.id_algo = static_cast<IdAlgo>(u8);
  d.GetFixed8(&u8);
  p.cipher = static_cast<Cipher>(u8);
  d.GetFixed8(&u8);
  p.compression = static_cast<Compression>(u8);
  d.GetFixed32(&p.chunk_min);
  d.GetFixed32(&p.chunk_avg);
  d.GetFixed32(&p.chunk_max);
  d.GetFixed64(&p.segment_size);
  d.GetBytes(32, &v);
  std::memcpy(p.key_check.data(), v.data(), 32);
  const size_t reserved_start = 8 + d.offset();
  for (size_t i = reserved_start; i < kSegmentChecksumOffset; i++) {
    if (b[i] != 0) return Bad(what, "reserved", i, "is not zero");
  }
  Status s = ValidateVolumeParams(p);
  if (!s.ok()) return Status::Corruption(std::string(what) + ": " + s.message());
  return h;
}

}  // namespace

std::string VolumeParams::UuidString() const {
  char b[33];
  for (size_t i = 0; i < 16; i++) std::snprintf(b + 2 * i, 3, "%02x", uuid[i]);
  return std::string(b, 32);
}

Status ValidateVolumeParams(const VolumeParams& p) {
  auto bad = [](const char* field, size_t off, const std::string& why) {
    return Status::InvalidArgument(std::string(field) + " at offset " + std::to_string(off) + " " + why);
  };
  if (p.chunker != ChunkerAlgo::kFastCdcGear) return bad("chunker", 48, "is not a known chunker");
  if (p.id_algo != IdAlgo::kBlake2bKeyed && p.id_algo != IdAlgo::kHmacSha256) {
    return bad("id_algo", 49, "is not a known chunk-id algorithm");
  }
  if (p.cipher != Cipher::kNone && p.cipher != Cipher::kXChaCha20Poly1305) {
    return bad("cipher", 50, "is not a known cipher");
  }
  if (p.compression != Compression::kZstd) return bad("compression", 51, "is not a known compression");
  if (p.chunk_min < kChunkSizeMin || p.chunk_max > kChunkSizeMax || !(p.chunk_min < p.chunk_avg) ||
      !(p.chunk_avg < p.chunk_max) || (p.chunk_avg & (p.chunk_avg - 1)) != 0) {
    return bad("chunk sizes", 52, "must satisfy 1 KiB <= min < avg < max <= 4 MiB, avg a power of 2 (" +
                                      std::to_string(p.chunk_min) + "/" + std::to_string(p.chunk_avg) +
                                      "/" + std::to_string(p.chunk_max) + ")");
  }
  if (p.segment_size < kSegmentSizeMin || p.segment_size > kSegmentSizeMax ||
      p.segment_size % kPageSize != 0) {
    return bad("segment_size", 64, std::to_string(p.segment_size) +
                                       " must be a multiple of 4096 between 1 MiB and 1 TiB");
  }
  return Status::Ok();
}

std::string EncodeSegmentHeader(const SegmentHeader& h) {
  BV_ASSERT(h.segment_number != 0);
  return EncodeWithMagic(kSegmentMagic, h.segment_number, h.params);
}

Result<SegmentHeader> DecodeSegmentHeader(std::string_view bytes) {
  auto r = DecodeWithMagic("segment header", kSegmentMagic, bytes);
  if (r.ok() && r->segment_number == 0) {
    return Status::Corruption("segment header: segment_number at offset 16 is 0");
  }
  return r;
}

std::string EncodeVolumeFile(const VolumeParams& p) { return EncodeWithMagic(kVolumeMagic, 0, p); }

Result<VolumeParams> DecodeVolumeFile(std::string_view bytes) {
  BV_ASSIGN_OR_RETURN(SegmentHeader h, DecodeWithMagic("volume file", kVolumeMagic, bytes));
  if (h.segment_number != 0) return Status::Corruption("volume file: segment_number at offset 16 is not 0");
  return h.params;
}

std::string EncodeSeal(const SealRecord& s) {
  std::string out;
  PutFixed64(&out, s.segment_number);
  PutFixed64(&out, s.seal_offset);
  PutFixed64(&out, s.block_count);
  return out;
}

Result<SealRecord> DecodeSeal(std::string_view payload) {
  if (payload.size() != kSealPayloadSize) {
    return Status::Corruption("seal: payload is " + std::to_string(payload.size()) + " bytes, not 24");
  }
  SealRecord s;
  s.segment_number = DecodeFixed64(payload.data());
  s.seal_offset = DecodeFixed64(payload.data() + 8);
  s.block_count = DecodeFixed64(payload.data() + 16);
  if (s.seal_offset < kSegmentHeaderSize) {
    return Status::Corruption("seal: seal_offset at offset 8 is inside the segment header");
  }
  return s;
}

std::string SegmentFileName(uint64_t number) {
  char b[32];
  std::snprintf(b, sizeof b, "seg-%012llu.bvs", static_cast<unsigned long long>(number));
  return b;
}

bool ParseSegmentFileName(std::string_view name, uint64_t* number) {
  if (name.size() != 20 || name.substr(0, 4) != "seg-" || name.substr(16) != ".bvs") return false;
  uint64_t n = 0;
  for (char c : name.substr(4, 12)) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n == 0) return false;
  *number = n;
  return true;
}

}  // namespace bv::format
