// A segments directory of its own with the backend BV_IO names, and plain blocks to append to it:
// for the tests of the segment writer and reader, which need no volume around them.
#pragma once

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "engine/segment_files.h"
#include "format/block_format.h"
#include "format/segment_format.h"
#include "tests/test_util.h"

namespace bv::test {

struct SegmentDir {
  SegmentDir() : env(io::Env::Create(TestBackend())), files(env.get(), tmp / "segments") {
    std::filesystem::create_directories(files.dir());
    params.segment_size = format::kSegmentSizeMin;
  }
  // The whole file of a segment, as it is on disk.
  std::string Bytes(uint64_t segment) const {
    std::ifstream f(files.Path(segment), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }

  TempDir tmp;
  std::unique_ptr<io::Env> env;
  engine::SegmentFiles files;
  format::VolumeParams params;
};

// An unencrypted, uncompressed data block of `payload_size` (at least 1) random bytes.
inline std::string PlainBlock(size_t payload_size, uint64_t seed) {
  format::BlockHeader h;
  h.type = format::BlockType::kData;
  h.raw_len = static_cast<uint32_t>(payload_size);
  h.id.fill(static_cast<uint8_t>(seed % 255 + 1));  // a data block's id is never zero
  return format::EncodeBlock(h, RandomBytes(payload_size, seed));
}

}  // namespace bv::test
