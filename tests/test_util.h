// Helpers shared by the tests: temporary directories, volumes on the backend BV_IO names, and
// string-in / string-out snapshots.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <span>
#include <string>

#include "engine/put_session.h"
#include "engine/restore.h"
#include "engine/volume.h"

namespace bv::test {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "bvtest-XXXXXX").string();
    BV_ASSERT(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline io::Backend TestBackend() {
  auto b = io::BackendFromEnvironment();
  BV_ASSERT(b.ok());
  return *b;
}

class StringInput final : public engine::InputStream {
 public:
  explicit StringInput(std::string_view s, size_t piece = 1 << 20) : s_(s), piece_(piece) {}
  Result<size_t> Read(char* dst, size_t n) override {
    n = std::min({n, s_.size() - pos_, piece_});
    std::memcpy(dst, s_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
  size_t piece_;
};

// Fails after `limit` bytes, as a source whose dump job died.
class FailingInput final : public engine::InputStream {
 public:
  FailingInput(std::string_view data, size_t limit) : data_(data), limit_(limit) {}
  Result<size_t> Read(char* dst, size_t n) override {
    if (pos_ >= limit_) return Status::IOError("source went away");
    n = std::min({n, limit_ - pos_, size_t{1} << 20});
    std::memcpy(dst, data_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  std::string_view data_;
  size_t limit_;
  size_t pos_ = 0;
};

class StringSink final : public engine::OutputSink {
 public:
  Status Write(std::string_view b) override {
    out.append(b);
    return Status::Ok();
  }
  std::string out;
};

struct TestVolume {
  TempDir tmp;
  std::string dir() const { return tmp / "vol"; }
  std::string key() const { return tmp / "master.key"; }

  Status Init(engine::InitOptions o = {}) {
    o.key_file = key();
    std::string key_path;
    return engine::Volume::Init(dir(), o, &key_path);
  }
  Result<std::unique_ptr<engine::Volume>> Open(engine::OpenOptions o = {}) {
    o.key_file = key();
    o.backend = TestBackend();
    return engine::Volume::Open(dir(), o);
  }
};

inline Result<format::SnapshotRecord> PutString(engine::Volume* v, const std::string& source, std::string_view data,
                                               std::optional<int64_t> time_us = std::nullopt) {
  StringInput in(data);
  engine::PutOptions o;
  o.source = source;
  o.time_us = time_us;
  return engine::Put(v, o, {{"", &in}});
}

inline Result<std::string> GetString(engine::Volume* v, uint64_t id,
                                     std::optional<engine::ByteRange> range = std::nullopt) {
  BV_ASSIGN_OR_RETURN(auto e, v->index()->GetSnapshot(id));
  if (!e) return Status::NotFound("snapshot");
  StringSink sink;
  engine::RestoreOptions o;
  o.range = range;
  BV_RETURN_IF_ERROR(engine::Restore(v, *e, o, &sink));
  return sink.out;
}

// Bytes as lower-case hex: how tests pin golden values.
inline std::string Hex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (uint8_t c : bytes) {
    s += kDigits[c >> 4];
    s += kDigits[c & 15];
  }
  return s;
}

// The key 00 01 02 … 1f: a fixed key for golden values.
inline engine::Key CountingKey() {
  engine::Key k;
  for (size_t i = 0; i < k.size(); i++) k[i] = static_cast<uint8_t>(i);
  return k;
}

// A random seed, or $BV_SEED to replay a failure (a test prints its seeds in its traces; for one
// that adds to a base seed, give the base).
inline uint64_t SeedFromEnvironment() {
  if (const char* s = std::getenv("BV_SEED"); s != nullptr && *s != '\0') return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

// Inverts every bit of the byte at `offset` of the file: damage that always changes the byte
// (setting it to a fixed value leaves it as it was once in 256 tries on random data).
inline void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  const char c = static_cast<char>(f.get());
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(~c));
  BV_ASSERT(f.good());
}

inline std::string RandomBytes(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
  for (size_t i = 0; i < n; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(s.data() + i, &x, std::min<size_t>(8, n - i));
  }
  return s;
}

}  // namespace bv::test

#define ASSERT_OK(expr)                                  \
  do {                                                   \
    ::bv::Status s_ = (expr);                            \
    ASSERT_TRUE(s_.ok()) << s_.ToString();               \
  } while (0)

#define ASSERT_OK_AND_ASSIGN(lhs, expr)                  \
  ASSERT_OK_AND_ASSIGN_IMPL(BV_CONCAT(r_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, expr)        \
  auto tmp = (expr);                                     \
  ASSERT_TRUE(tmp.ok()) << tmp.status().ToString();      \
  lhs = std::move(tmp).value()
