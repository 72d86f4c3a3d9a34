// bvtool's side of a framed push (docs/protocol.md §6): streams sent in DATA frames, synced as
// they go, and resumed on a new connection after a lost one.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tools/bvtool/client.h"
#include "tools/bvtool/common.h"

namespace bv::tool {

// One stream of a push: a regular file, or a pipe (standard input, a command's output) read once.
struct PushStream {
  std::string name;
  std::string path;  // "-": standard input; for errors, what the stream is
  int fd = -1;
  std::optional<uint64_t> size;  // a regular file's, as last seen: it may still grow
  // Called at the stream's end, before it is ended on the server (again after a resume): a
  // command's exit status. A failure aborts the session.
  std::function<Status()> at_end;
  bool regular() const { return size.has_value(); }
};

// Pushes the streams in frames, resuming the session after a lost connection. A regular file is
// sent from the page cache by splice and, after a reconnect, sent again from the offset the server
// synced. A pipe is read once: the bytes after the last sync are kept, read straight into a
// buffer of fixed size, and sent from it.
class FramedPusher {
 public:
  // sync_every: bytes between acknowledged syncs, for files and pipes alike; 0: the defaults.
  FramedPusher(const Remote& remote, std::vector<PushStream> streams, std::string begin_line, uint64_t sync_every);

  // COMMIT's reply, after as many resumes as a lost connection needs. If a stream cannot be read
  // (or its at_end fails), the session is aborted (nothing is committed) and that is the error.
  Result<server::Reply> Run();

 private:
  static constexpr int kRetriesMax = 8;
  // Bytes between acknowledged syncs. A pipe's are held in memory until its sync; a file's are
  // sent again from the file, so it syncs less often (each sync drains the server's pipeline).
  static constexpr size_t kPipeSyncEvery = 32 << 20;
  static constexpr uint64_t kFileSyncEvery = 256 << 20;
  static constexpr size_t kFrame = 1 << 20;

  // One connection's part of the push: BEGIN or RESUME, then frames up to COMMIT's reply.
  Result<server::Reply> Attempt();
  // RESUME on a new connection: the server is at its last sync, which is at or after ours.
  Status Resume(Client* client);
  // How many bytes to send from stream offset `at`: 0 at the stream's end. A pipe's come from the
  // kept bytes, or are read into them.
  Result<size_t> NextPiece(PushStream* s, uint64_t at);
  // SYNC, and checks that the server holds exactly the stream up to `offset` (at a stream's end,
  // the session is between streams and no offset is checked).
  Status Sync(Client* client, uint64_t offset);
  // ABORT, because of `why` (a stream's failure, not the server's): no retry after it.
  Status Abort(Client* client, Status why);

  const Remote remote_;
  std::vector<PushStream> streams_;
  std::string begin_line_;
  const uint64_t file_sync_every_;
  const size_t pipe_sync_every_;
  std::optional<uint64_t> total_ = 0;
  Progress* progress_ = nullptr;
  std::string session_;
  size_t acked_stream_ = 0;    // streams the server has ended and synced
  uint64_t acked_offset_ = 0;  // of the open stream, synced
  uint64_t sent_ = 0;          // of the open stream, the end of what was sent on any connection
  bool stream_open_ = false;   // on the current connection
  std::unique_ptr<char[]> kept_;  // a pipe's bytes after acked_offset_: kept_len_ of them
  size_t kept_len_ = 0;
  uint64_t base_ = 0;  // bytes of the streams before
  bool aborted_ = false;
};

}  // namespace bv::tool
