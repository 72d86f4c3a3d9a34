// get SNAPSHOT --into -- COMMAND…: the restored stream goes to a command's standard input, and the
// command sees the end of its input only when the stream is whole and checked. On any failure
// bvtool kills it first (SIGKILL to its process group), so that a transactional consumer
// (`psql --single-transaction -v ON_ERROR_STOP=1`) rolls back instead of committing a prefix.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/hold_back_sink.h"
#include "engine/stream_io.h"
#include "tools/bvtool/child_process.h"

namespace bv::tool {

// Starts the consumer (exits with a clear line if it cannot be run). bvtool ignores SIGPIPE from
// here on, so that a consumer that stops reading is an error to report, not bvtool's death.
std::unique_ptr<ChildProcess> StartConsumer(const std::vector<std::string>& argv);

// The end of a get --into, given how the restore went: whole (`restore` ok) closes the pipe and
// waits for the consumer; otherwise it is killed before the pipe closes. One line on standard
// error unless all went well. Returns bvtool's exit status: the consumer's own when the restore
// was whole, 3 for damaged data, else 1.
int FinishInto(ChildProcess* consumer, const Status& restore);

}  // namespace bv::tool
