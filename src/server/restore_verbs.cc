// GET and VERIFY (docs/protocol.md §7, §8): a snapshot's bytes restored to the socket, its stored
// blocks spliced to it (format=blocks), or every block read and checked here.
#include <spdlog/spdlog.h>

#include <cstdint>
#include <optional>
#include <string>

#include "engine/recipe_walk.h"
#include "engine/restore.h"
#include "engine/snapshot_ref.h"
#include "engine/stored_blocks.h"
#include "format/segment_format.h"
#include "io/file_splicer.h"
#include "server/connection_streams.h"
#include "server/protocol_text.h"
#include "server/server.h"
#include "server/session_verbs.h"

namespace bv::server {

namespace {

// A session's restore: on the shared workers, with a small window (docs/protocol.md §10).
engine::RestoreOptions RestoreSettings(SessionContext* ctx) {
  engine::RestoreOptions o;
  o.pool = ctx->server->pool();
  o.batch_output = kSessionBatchOutput;
  o.batches_in_flight = kSessionRestoreBatches;
  o.read_window = kSessionReadWindow;
  return o;
}

// How a raw GET that fails after its first byte ends (docs/protocol.md §7).
enum class OnError { kReset, kLine };

// A raw GET: the stream's bytes, then the end of output. A failure after the first byte resets the
// connection, so that nothing after the prefix looks like an orderly end; a client that strips it
// (bvtool) may ask for an error line of its own instead (on_error=line).
bool GetBytes(SessionContext* ctx, const engine::SnapshotEntry& snap, const engine::RestoreOptions& o, OnError on_error) {
  SocketSink sink(&ctx->conn);
  Status s = engine::Restore(ctx->tenant->volume(), snap, o, &sink);
  if (Status f = sink.Finish(); s.ok()) s = f;
  if (s.ok()) {
    ctx->Log(spdlog::level::info, "GET " + format::SnapshotIdHex(snap.record.id) + " bytes=" + std::to_string(sink.written) +
                                      " zerocopy_sends=" + std::to_string(sink.stats().zerocopy_calls - sink.stats().copied_calls) +
                                      " copied_sends=" + std::to_string(sink.stats().copied_calls + sink.stats().plain_calls));
    ctx->conn.EndOutput();
    return false;
  }
  ctx->Log(spdlog::level::warn, "GET " + format::SnapshotIdHex(snap.record.id) + " failed after " +
                                    std::to_string(sink.written) + " bytes: " + s.ToString());
  if (sink.written == 0) return ctx->conn.LastError(s);
  if (on_error == OnError::kLine) {
    (void)ctx->conn.Write(std::string("\nERR ") + ErrorCodeName(s) + " " + OneLine(s.message()) + "\n");
    ctx->conn.EndOutput();
    return false;
  }
  ctx->conn.AbortOutput();
  return false;
}

// GET check=first: every block of what the GET asks for is read and checked before the first byte
// goes out, so a damaged snapshot sends nothing but its error line.
Status CheckFirst(SessionContext* ctx, const engine::SnapshotEntry& snap, engine::RestoreOptions o) {
  o.body_check = engine::BodyCheck::kAlways;
  engine::NullSink sink;
  return engine::Restore(ctx->tenant->volume(), snap, o, &sink);
}

// GET format=blocks (docs/protocol.md §7.1): the stored blocks, untouched, each spliced from its
// segment file to the socket; the client checks and decodes them.
bool GetBlocks(SessionContext* ctx, const engine::SnapshotEntry& snap, uint16_t stream,
               const std::optional<engine::ByteRange>& range) {
  engine::Volume* v = ctx->tenant->volume();
  const format::StreamInfo& info = snap.record.streams[stream];
  const engine::ByteRange span = range ? *range : engine::ByteRange{0, info.length};
  auto splicer = io::FileSplicer::Create();
  if (!splicer.ok()) return ctx->conn.LastError(splicer.status());
  const bool encrypted = v->params().cipher != format::Cipher::kNone;
  std::string head = "OK snapshot=" + format::SnapshotIdHex(snap.record.id) + " stream=" + std::to_string(stream) +
                     " length=" + std::to_string(info.length) + " begin=" + std::to_string(span.begin) +
                     " end=" + std::to_string(span.end) + " encrypted=" + (encrypted ? "true" : "false");
  if (!range) head += " hash=" + HashHex(info.hash);
  if (!ctx->conn.Reply(head).ok()) return false;
  uint64_t blocks = 0, bytes = 0;
  bool mid_block = false;  // a failure inside a block's bytes cannot be followed by a line
  auto ship = [&](const engine::ChunkRef& c, io::File* file, const engine::Location& loc) -> Status {
    // The block's bytes follow at once: the line waits to share their packet.
    BV_RETURN_IF_ERROR(ctx->conn.socket()->WriteAll("BLOCK offset=" + std::to_string(c.stream_offset) + " skip=" +
                                                    std::to_string(c.skip) + " take=" + std::to_string(c.take) +
                                                    " size=" + std::to_string(loc.total_size()) + "\n",
                                                ctx->conn.write_timeout_ms(), /*more=*/true));
    mid_block = true;
    BV_RETURN_IF_ERROR(
        (*splicer)->Send(file, loc.offset, loc.total_size(), ctx->conn.socket(), ctx->conn.write_timeout_ms()));
    mid_block = false;
    blocks++;
    bytes += c.take;
    return Status::Ok();
  };
  Status s = engine::ForEachStoredBlock(v, snap, stream, range, kSessionReadWindow, ship);
  const std::string what = "GET " + format::SnapshotIdHex(snap.record.id) + " format=blocks";
  if (!s.ok()) {
    ctx->Log(spdlog::level::warn, what + " failed after " + std::to_string(blocks) + " blocks: " + s.ToString());
    if (mid_block) {
      ctx->conn.AbortOutput();  // the block is cut short; the client must not take it for a clean end
      return false;
    }
    ctx->conn.LastError(s);
    ctx->conn.EndOutput();
    return false;
  }
  ctx->Log(spdlog::level::info, what + " blocks=" + std::to_string(blocks) + " bytes=" + std::to_string(bytes));
  ctx->conn.LastReply("OK blocks=" + std::to_string(blocks) + " bytes=" + std::to_string(bytes));
  ctx->conn.EndOutput();
  return false;
}

}  // namespace

bool HandleGet(SessionContext* ctx, const Request& r) {
  if (!RoleMayRead(ctx->role)) return ctx->Denied("restore");
  if (!ctx->Arity(r, 1, 1, {"stream", "range", "format", "check", "on_error"},
                  "GET <snapshot> [stream=NAME] [range=A-B] [format=blocks] [check=first] [on_error=line]")) {
    return false;
  }
  const std::string* format = r.Option("format");
  if (format && *format != "blocks" && *format != "bytes") {
    return ctx->conn.LastReply("ERR bad-request format=" + EscapeValue(*format) + ": expected bytes or blocks");
  }
  const std::string* check = r.Option("check");
  if (check && *check != "first" && *check != "none") {
    return ctx->conn.LastReply("ERR bad-request check=" + EscapeValue(*check) + ": expected first or none");
  }
  const std::string* on_error = r.Option("on_error");
  if (on_error && *on_error != "reset" && *on_error != "line") {
    return ctx->conn.LastReply("ERR bad-request on_error=" + EscapeValue(*on_error) + ": expected reset or line");
  }
  auto snap = ctx->Resolve(r.args[0]);
  if (!snap) return false;
  engine::RestoreOptions o = RestoreSettings(ctx);
  const std::string* stream = r.Option("stream");
  auto index = engine::FindStream(snap->record, stream ? *stream : "");
  if (!index.ok()) return ctx->conn.LastError(index.status());
  o.stream = *index;
  if (const std::string* range = r.Option("range")) {
    auto br = engine::ParseByteRange(*range, snap->record.streams[o.stream].length);
    if (!br.ok()) return ctx->conn.LastError(br.status());
    o.range = *br;
  }
  const bool blocks = format && *format == "blocks";
  auto memory = ctx->DrawMemory(blocks ? kBlocksRestoreDraw : kRestoreDraw, MemoryBudget::Use::kRead, "a restore");
  if (!memory) return false;
  if (blocks) return GetBlocks(ctx, *snap, o.stream, o.range);
  if (check && *check == "first") {
    Status s = CheckFirst(ctx, *snap, o);
    if (!s.ok()) {
      ctx->Log(spdlog::level::warn, "GET " + format::SnapshotIdHex(snap->record.id) + " check=first: " + s.ToString());
      return ctx->conn.LastError(s);
    }
  }
  return GetBytes(ctx, *snap, o, on_error && *on_error == "line" ? OnError::kLine : OnError::kReset);
}

bool HandleVerify(SessionContext* ctx, const Request& r) {
  if (!RoleMayRead(ctx->role)) return ctx->Denied("verify");
  if (!ctx->Arity(r, 1, 1, {}, "VERIFY <snapshot>")) return false;
  auto snap = ctx->Resolve(r.args[0]);
  if (!snap) return true;  // answered; the session goes on
  auto memory = ctx->DrawMemory(kVerifyDraw, MemoryBudget::Use::kRead, "a verify");
  if (!memory) return true;  // answered; the session goes on
  uint64_t bytes = 0;
  for (size_t i = 0; i < snap->record.streams.size(); i++) {
    engine::RestoreOptions o = RestoreSettings(ctx);
    o.stream = static_cast<uint16_t>(i);
    o.body_check = engine::BodyCheck::kAlways;
    engine::NullSink sink;
    Status s = engine::Restore(ctx->tenant->volume(), *snap, o, &sink);
    if (!s.ok()) {
      ctx->Log(spdlog::level::err, "VERIFY " + format::SnapshotIdHex(snap->record.id) + ": " + s.ToString());
      return ctx->conn.ReplyError(s).ok();
    }
    bytes += snap->record.streams[i].length;
  }
  return ctx->conn.Reply("OK verified=" + format::SnapshotIdHex(snap->record.id) + " streams=" +
                         std::to_string(snap->record.streams.size()) + " bytes=" + std::to_string(bytes))
      .ok();
}

}  // namespace bv::server
