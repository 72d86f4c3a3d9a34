// bvtool get against bvd (--server) without --blocks: the server restores and sends the stream's
// bytes (docs/protocol.md §7); bvtool holds the last of them back until the end, so that a
// restore that fails after sending some bytes leaves its error line out of the output. With
// --into -- COMMAND… the output is the command's standard input (into_command.h).
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "engine/snapshot_ref.h"
#include "io/hold_back_splicer.h"
#include "tools/bvtool/client.h"
#include "tools/bvtool/commands.h"
#include "tools/bvtool/into_command.h"
#include "tools/bvtool/output_file.h"
#include "tools/bvtool/reply_fields.h"

namespace bv::tool {

namespace {

constexpr size_t kReadChunk = 1 << 20;
constexpr size_t kHoldBack = 64 << 10;  // longer than any error line

// What STAT says of the snapshot: its exact id, so GET fetches that one, and the length of the
// stream named `stream` ("" for the first).
struct Target {
  std::string snapshot;
  uint64_t length = 0;
};

Target Stat(Client* client, const std::string& ref, const std::string& stream) {
  Check(client->SendLine("STAT " + Arg(ref)));
  std::vector<server::Reply> streams;
  server::Reply snap;
  for (;;) {
    auto r = Check(client->ReadReply());
    if (r.kind != "STREAM") {
      snap = r;
      break;
    }
    streams.push_back(r);
  }
  const server::Reply* chosen = streams.empty() ? nullptr : &streams.front();
  if (!stream.empty()) {
    chosen = nullptr;
    for (const auto& s : streams) {
      if (FieldText(s, "name") == stream) chosen = &s;
    }
    if (chosen == nullptr) Fail(Status::NotFound("snapshot has no stream named '" + stream + "'"));
  }
  if (chosen == nullptr) Fail(Status::Corruption("the server listed no streams"));
  return Target{FieldText(snap, "snapshot"), FieldNumber(*chosen, "length")};
}

// The bytes received: all but the held tail written (at least the last kHoldBack bytes are held).
struct Received {
  uint64_t total = 0;
  std::string held;
  Status status;
};

// Into a pipe: spliced from the socket, never copied through this process.
Received Splice(int socket_fd, int out_fd, Progress* progress) {
  Received r;
  auto splicer = io::HoldBackSplicer::Create(kHoldBack);
  if (!splicer.ok()) Fail(splicer.status());
  auto got = (*splicer)->Run(socket_fd, out_fd, Client::kTimeoutMs, [&](uint64_t n) { progress->Update(n); });
  if (!got.ok()) {
    r.status = got.status();
    return r;
  }
  r.total = *got;
  auto tail = (*splicer)->Tail();
  if (tail.ok()) r.held = std::move(*tail);
  r.status = tail.status();
  return r;
}

// Read into a buffer whose last kHoldBack bytes wait for the next read or the end.
Received Read(Client* client, engine::OutputSink* sink, Progress* progress) {
  Received r;
  std::string buf(kReadChunk + kHoldBack, '\0');
  size_t len = 0;
  while (r.status.ok()) {
    auto got = client->ReadBytes(buf.data() + len, buf.size() - len);
    if (!got.ok()) {
      r.status = got.status();
      break;
    }
    if (*got == 0) break;
    len += *got;
    r.total += *got;
    // Flushed only when nearly full: each flush moves the held-back tail to the front, and doing
    // that after every read (a TLS read returns a few records) moved eight times the stream.
    if (buf.size() - len < kHoldBack) {
      const size_t out = len - kHoldBack;
      r.status = sink->Write(std::string_view(buf.data(), out));
      std::memmove(buf.data(), buf.data() + out, kHoldBack);
      len = kHoldBack;
    }
    progress->Update(r.total);
  }
  r.held.assign(buf.data(), len);
  return r;
}

// Whole only if exactly the expected bytes came; otherwise the held tail is the server's error.
Status WholeOrWhy(const Received& r, uint64_t expect) {
  if (!r.status.ok() || r.total == expect) return r.status;
  const size_t at = r.held.rfind("ERR ");
  if (at != std::string::npos && (at == 0 || r.held[at - 1] == '\n')) {
    std::string line = r.held.substr(at);
    while (!line.empty() && line.back() == '\n') line.pop_back();
    auto reply = server::ParseReply(line);
    if (reply.ok() && reply->kind == "ERR") return ServerError(*reply);
  }
  return Status::IOError("the restore stopped after " + std::to_string(r.total) + " of " + std::to_string(expect) +
                         " bytes");
}

// get --into: the bytes go to the consumer's pipe, held back the same way; the consumer sees the
// end of its input only if exactly `expect` bytes came.
int GetInto(Client* client, uint64_t expect, const std::vector<std::string>& into) {
  auto consumer = StartConsumer(into);
  engine::FdSink sink(consumer->fd(), "the input of " + consumer->name());
  Progress progress("get", expect);
  const std::optional<int> socket_fd = client->UnbufferedFd();
  const Received got = socket_fd ? Splice(*socket_fd, consumer->fd(), &progress) : Read(client, &sink, &progress);
  Status s = WholeOrWhy(got, expect);
  if (s.ok()) s = sink.Write(got.held);
  return FinishInto(consumer.get(), s);
}

}  // namespace

int RemoteGet(const Common&, const Remote& remote, const std::string& ref, const std::string& out_path,
              const std::string& range, const std::string& stream, const std::vector<std::string>& into) {
  auto client = Check(Client::Connect(remote));
  const Target target = Stat(client.get(), ref, stream);
  uint64_t expect = target.length;
  std::string line = "GET id:" + target.snapshot + " on_error=line";
  if (!stream.empty()) line += " stream=" + Arg(stream);
  if (!range.empty()) {
    const engine::ByteRange br = Check(engine::ParseByteRange(range, expect));
    expect = br.end - br.begin;
    line += " range=" + Arg(range);
  }
  Check(client->SendLine(line));
  if (!into.empty()) return GetInto(client.get(), expect, into);

  OutputFile output(out_path, false);
  Progress progress("get", expect);
  struct stat st;
  const std::optional<int> socket_fd = client->UnbufferedFd();
  const bool to_pipe = output.to_stdout() && socket_fd && ::fstat(output.fd(), &st) == 0 && S_ISFIFO(st.st_mode);
  const Received got = to_pipe ? Splice(*socket_fd, output.fd(), &progress) : Read(client.get(), output.sink(), &progress);
  Status s = WholeOrWhy(got, expect);
  if (s.ok()) s = output.sink()->Write(got.held);
  Check(output.Finish(std::move(s)));
  return 0;
}

}  // namespace bv::tool
