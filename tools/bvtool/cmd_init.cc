// bvtool init: a new volume and its master key.
#include "tools/bvtool/commands.h"

#include <cstdio>
#include <iostream>

#include "engine/chunker.h"

namespace bv::tool {

using engine::Volume;
using nlohmann::json;

int CmdInit(const Common& c, const std::string& encryption, const std::string& id_algo, uint32_t avg,
            uint64_t segment_mib) {
  engine::InitOptions o;
  if (encryption == "none") o.encrypt = false;
  else if (encryption != "xchacha20-poly1305") Fail(Status::InvalidArgument("--encryption must be xchacha20-poly1305 or none"));
  if (id_algo == "hmac-sha256") o.id_algo = format::IdAlgo::kHmacSha256;
  else if (id_algo == "blake2b") o.id_algo = format::IdAlgo::kBlake2bKeyed;
  else Fail(Status::InvalidArgument("--chunk-id must be hmac-sha256 or blake2b"));
  o.key_file = c.key_file;
  const engine::ChunkSizes sizes = engine::ChunkSizes::ForAverage(avg);
  o.chunk_min = sizes.min;
  o.chunk_avg = sizes.avg;
  o.chunk_max = sizes.max;
  o.segment_size = segment_mib << 20;
  std::string key_path;
  Check(Volume::Init(c.dir, o, &key_path));
  if (c.json) {
    std::cout << json{{"volume", c.dir}, {"key_file", key_path}, {"encrypted", o.encrypt}}.dump() << "\n";
  } else {
    std::printf("created volume %s\n", c.dir.c_str());
    if (o.encrypt) {
      std::printf("master key: %s (mode 0600)\n", key_path.c_str());
      std::printf("keep a copy of the key elsewhere: without it nothing in the volume can be restored\n");
    }
  }
  return 0;
}

}  // namespace bv::tool
