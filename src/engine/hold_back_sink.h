// A sink that writes all but the newest `hold` bytes; Release() writes those once the stream is
// known to be whole. A restore checks the whole stream's hash only at its end: a consumer that
// must never see the end of a stream that fails that check (`psql --single-transaction`) reads
// through one, and is killed before its input closes when the restore fails.
#pragma once

#include <string>
#include <string_view>

#include "engine/stream_io.h"

namespace bv::engine {

class HoldBackSink final : public OutputSink {
 public:
  HoldBackSink(OutputSink* out, size_t hold) : out_(out), hold_(hold) {}
  Status Write(std::string_view bytes) override;
  Status Release();

 private:
  OutputSink* const out_;
  const size_t hold_;
  std::string held_;
};

}  // namespace bv::engine
