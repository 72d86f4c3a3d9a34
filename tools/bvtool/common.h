// What every bvtool command shares: options, error exits, opening a volume, output helpers.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/volume.h"
#include "format/snapshot_format.h"

namespace bv::tool {

struct Common {
  std::string dir;
  std::string key_file;
  std::string io = "";
  bool json = false;
  int zstd_level = engine::kDefaultZstdLevel;  // put only
};

// Progress on standard error, only when it is a terminal, at most 4 times a second: bytes, rate
// and, when the total is known, percent and time left.
class Progress {
 public:
  explicit Progress(const char* verb, std::optional<uint64_t> total = std::nullopt);
  ~Progress();
  void Update(uint64_t bytes);

 private:
  using Clock = std::chrono::steady_clock;
  const char* verb_;
  std::optional<uint64_t> total_;
  bool on_;
  Clock::time_point start_, last_{};
};

// One line on standard error, then exit 1 (3 when data is damaged).
[[noreturn]] void Fail(const Status& s);

template <typename T>
T Check(Result<T> r) {
  if (!r.ok()) Fail(r.status());
  return std::move(r).value();
}
void Check(const Status& s);

// Checking commands report recovery's notes in their own report; the others print them here.
std::unique_ptr<engine::Volume> OpenVolume(const Common& c, bool need_key, engine::RecoverMode mode = {},
                                           bool rebuild = false, bool print_notes = true);
// For commands that only read (get, ls, verify, fsck without a repair): a cleanly closed volume is opened without
// writing to it; one that was not is recovered with `mode`.
std::unique_ptr<engine::Volume> OpenVolumeToRead(const Common& c, bool need_key, engine::RecoverMode mode = {},
                                                 bool print_notes = true);

std::string Hex(const uint8_t* p, size_t n);
std::string Human(uint64_t n);
nlohmann::json SnapshotJson(const format::SnapshotRecord& r);

}  // namespace bv::tool
