// All bytes BV writes go through here: fixed-width little-endian integers and length-prefixed
// strings. Never memcpy a struct onto disk bytes.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace bv::format {

inline void PutFixed8(std::string* dst, uint8_t v) { dst->push_back(static_cast<char>(v)); }

inline void PutFixed16(std::string* dst, uint16_t v) {
  char b[2] = {static_cast<char>(v), static_cast<char>(v >> 8)};
  dst->append(b, 2);
}

inline void PutFixed32(std::string* dst, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; i++) b[i] = static_cast<char>(v >> (8 * i));
  dst->append(b, 4);
}

inline void PutFixed64(std::string* dst, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; i++) b[i] = static_cast<char>(v >> (8 * i));
  dst->append(b, 8);
}

// Big-endian, for index keys that must sort numerically.
inline void PutBigEndian64(std::string* dst, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; i++) b[i] = static_cast<char>(v >> (56 - 8 * i));
  dst->append(b, 8);
}

inline uint64_t DecodeBigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

inline uint16_t DecodeFixed16(const char* p) {
  return static_cast<uint16_t>(static_cast<uint8_t>(p[0]) | (static_cast<uint8_t>(p[1]) << 8));
}

inline uint32_t DecodeFixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

inline uint64_t DecodeFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

inline void EncodeFixed32(char* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = static_cast<char>(v >> (8 * i));
}

inline void EncodeFixed64(char* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = static_cast<char>(v >> (8 * i));
}

// A string as u16 length then bytes.
inline void PutString16(std::string* dst, std::string_view s) {
  PutFixed16(dst, static_cast<uint16_t>(s.size()));
  dst->append(s);
}

// Reads fields in order from a byte string and remembers the offset of each, so that a decoder can
// say exactly which field at which offset is wrong.
class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  size_t offset() const { return pos_; }
  size_t remaining() const { return in_.size() - pos_; }
  bool GetFixed8(uint8_t* v) {
    if (remaining() < 1) return false;
    *v = static_cast<uint8_t>(in_[pos_]);
    pos_ += 1;
    return true;
  }
  bool GetFixed16(uint16_t* v) { return Get(2, v, DecodeFixed16); }
  bool GetFixed32(uint32_t* v) { return Get(4, v, DecodeFixed32); }
  bool GetFixed64(uint64_t* v) { return Get(8, v, DecodeFixed64); }
  bool GetBytes(size_t n, std::string_view* v) {
    if (remaining() < n) return false;
    *v = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool GetString16(std::string_view* v) {
    uint16_t n;
    size_t start = pos_;
    if (!GetFixed16(&n)) return false;
    if (!GetBytes(n, v)) {
      pos_ = start;
      return false;
    }
    return true;
  }

 private:
  template <typename T, typename F>
  bool Get(size_t n, T* v, F decode) {
    if (remaining() < n) return false;
    *v = decode(in_.data() + pos_);
    pos_ += n;
    return true;
  }
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace bv::format
