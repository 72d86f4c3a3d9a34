// bvtool push, get, ls, verify and delete against a running bvd (--server).
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "engine/snapshot_ref.h"
#include "engine/stream_io.h"
#include "io/hold_back_splicer.h"
#include "tools/bvtool/client.h"
#include "tools/bvtool/commands.h"
#include "tools/bvtool/framed_pusher.h"
#include "tools/bvtool/reply_fields.h"

namespace bv::tool {

using nlohmann::json;

namespace {

constexpr size_t kSendChunk = 1 << 20;
constexpr size_t kHoldBack = 64 << 10;  // longer than any error line

// The stream a GET fetches, as STAT named it.
struct GetTarget {
  std::string snapshot;  // the exact id, so GET fetches the snapshot STAT saw
  uint64_t length = 0;
};

// STAT first: the length to expect and the exact snapshot, so GET fetches that one.
GetTarget StatForGet(Client* client, const std::string& ref, const std::string& stream) {
  Check(client->SendLine("STAT " + Arg(ref)));
  std::vector<server::Reply> streams;
  server::Reply snap;
  for (;;) {
    auto r = Check(client->ReadReply());
    if (r.kind == "STREAM") {
      streams.push_back(r);
      continue;
    }
    snap = r;
    break;
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
  return {FieldText(snap, "snapshot"), FieldNumber(*chosen, "length")};
}

// What a raw GET brought: every byte but the last kHoldBack went to the output at once; those
// are held until the end is seen, for a restore that fails after sending some bytes ends in an
// error line instead of the rest (docs/protocol.md §7), and that line must not reach the output.
struct Received {
  uint64_t total = 0;
  std::string held;
  Status status;
};

// Into a pipe: spliced from the socket, never copied through this process.
Received SpliceToPipe(int socket_fd, int fd, Progress* progress) {
  Received got;
  auto splicer = io::HoldBackSplicer::Create(kHoldBack);
  if (!splicer.ok()) Fail(splicer.status());
  auto n = (*splicer)->Run(socket_fd, fd, Client::kTimeoutMs, [&](uint64_t b) { progress->Update(b); });
  if (!n.ok()) {
    got.status = n.status();
    return got;
  }
  got.total = *n;
  auto tail = (*splicer)->Tail();
  if (tail.ok()) got.held = std::move(*tail);
  got.status = tail.status();
  return got;
}

// Read into a buffer whose last kHoldBack bytes wait for the next read or the end.
Received ReadThrough(Client* client, engine::FdSink* sink, Progress* progress) {
  Received got;
  std::string buf(kSendChunk + kHoldBack, '\0');
  size_t len = 0;
  while (got.status.ok()) {
    auto n = client->ReadBytes(buf.data() + len, buf.size() - len);
    if (!n.ok()) {
      got.status = n.status();
      break;
    }
    if (*n == 0) break;
    len += *n;
    got.total += *n;
    if (len > kHoldBack) {
      const size_t out = len - kHoldBack;
      got.status = sink->Write(std::string_view(buf.data(), out));
      std::memmove(buf.data(), buf.data() + out, kHoldBack);
      len = kHoldBack;
    }
    progress->Update(got.total);
  }
  got.held.assign(buf.data(), len);
  return got;
}

// A restore that brought other than `expect` bytes: the server's error line at its tail, if any.
Status ShortRestore(const Received& got, uint64_t expect) {
  const size_t at = got.held.rfind("ERR ");
  Status why = Status::IOError("the restore stopped after " + std::to_string(got.total) + " of " +
                               std::to_string(expect) + " bytes");
  if (at != std::string::npos && (at == 0 || got.held[at - 1] == '\n')) {
    std::string line = got.held.substr(at);
    while (!line.empty() && line.back() == '\n') line.pop_back();
    auto r = server::ParseReply(line);
    if (r.ok() && r->kind == "ERR") why = ServerError(*r);
  }
  return why;
}

}  // namespace

int RemotePush(const Common& c, const Remote& remote, const std::string& source, const std::string& file,
               const std::vector<std::string>& stream_args, const std::string& label, const std::string& time,
               uint64_t sync_every) {
  std::vector<PushStream> streams;
  if (!stream_args.empty()) {
    if (!file.empty()) Fail(Status::InvalidArgument("give FILE or --stream NAME FILE, not both"));
    if (stream_args.size() % 2 != 0) Fail(Status::InvalidArgument("--stream takes a NAME and a FILE"));
    for (size_t i = 0; i < stream_args.size(); i += 2) streams.push_back({stream_args[i], stream_args[i + 1]});
  } else {
    streams.push_back({"", file.empty() ? "-" : file});
  }
  int stdin_users = 0;
  for (PushStream& s : streams) {
    if (s.path == "-") {
      s.fd = STDIN_FILENO;
      stdin_users++;
    } else {
      s.fd = ::open(s.path.c_str(), O_RDONLY | O_CLOEXEC);
      if (s.fd < 0) Fail(Status::FromErrno("open " + s.path, errno));
    }
    struct stat st;
    if (::fstat(s.fd, &st) == 0 && S_ISREG(st.st_mode)) s.size = static_cast<uint64_t>(st.st_size);
  }
  if (stdin_users > 1) Fail(Status::InvalidArgument("only one stream can come from standard input"));
  std::string begin = "BEGIN " + Arg(source);
  if (!label.empty()) begin += " label=" + Arg(label);
  if (!time.empty()) begin += " time=" + Arg(time);
  // Files go to the socket by splice, which raises SIGPIPE when bvd has gone; the lost connection
  // must come back as an error, to be resumed.
  ::signal(SIGPIPE, SIG_IGN);
  FramedPusher pusher(remote, std::move(streams), begin, sync_every);
  auto reply = pusher.Run();
  if (!reply.ok()) Fail(reply.status());
  if (c.json) {
    std::cout << SnapshotReplyJson(*reply).dump(2) << "\n";
  } else {
    std::printf("%s\n", FieldText(*reply, "snapshot").c_str());
  }
  return 0;
}

int RemoteGet(const Common&, const Remote& remote, const std::string& ref, const std::string& out_path,
              const std::string& range, const std::string& stream) {
  auto client = Check(Client::Connect(remote));
  const GetTarget target = StatForGet(client.get(), ref, stream);
  uint64_t expect = target.length;
  std::string line = "GET " + target.snapshot;
  if (!stream.empty()) line += " stream=" + Arg(stream);
  if (!range.empty()) {
    auto br = engine::ParseByteRange(range, expect);
    if (!br.ok()) Fail(br.status());
    expect = br->end - br->begin;
    line += " range=" + Arg(range);
  }
  Check(client->SendLine(line));

  const bool to_stdout = out_path.empty() || out_path == "-";
  const std::string tmp = to_stdout ? "" : out_path + ".bv-partial-" + std::to_string(::getpid());
  int fd = STDOUT_FILENO;
  if (!to_stdout) {
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) Fail(Status::FromErrno("create " + tmp, errno));
  }
  engine::FdSink sink(fd, to_stdout ? "standard output" : tmp);
  Progress progress("get", expect);
  struct stat st;
  const std::optional<int> socket_fd = client->UnbufferedFd();
  const bool into_pipe = to_stdout && socket_fd && ::fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
  const Received got = into_pipe ? SpliceToPipe(*socket_fd, fd, &progress) : ReadThrough(client.get(), &sink, &progress);
  Status s = got.status;
  // Whole only if exactly the expected bytes came; otherwise the tail is the server's error.
  if (s.ok() && got.total != expect) s = ShortRestore(got, expect);
  if (s.ok()) s = sink.Write(got.held);
  if (!to_stdout) {
    if (s.ok() && ::fsync(fd) != 0) s = Status::FromErrno("fsync " + tmp, errno);
    ::close(fd);
    if (s.ok() && ::rename(tmp.c_str(), out_path.c_str()) != 0) s = Status::FromErrno("rename to " + out_path, errno);
    if (!s.ok()) ::unlink(tmp.c_str());
  }
  Check(s);
  return 0;
}

int RemoteLs(const Common& c, const Remote& remote, const std::string& source, const std::string& since,
             const std::string& until) {
  auto client = Check(Client::Connect(remote));
  std::string line = "LIST";
  if (!source.empty()) line += " " + Arg(source);
  if (!since.empty()) line += " since=" + Arg(since);
  if (!until.empty()) line += " until=" + Arg(until);
  Check(client->SendLine(line));
  std::vector<server::Reply> rows;
  for (;;) {
    auto r = Check(client->ReadReply());
    if (r.kind != "SNAPSHOT") break;
    rows.push_back(std::move(r));
  }
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return FieldText(a, "time") > FieldText(b, "time"); });
  if (c.json) {
    json out = json::array();
    for (const auto& r : rows) out.push_back(SnapshotReplyJson(r));
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("%-16s  %-20s  %-24s  %10s  %10s  %10s  %s\n", "ID", "TIME", "SOURCE", "LOGICAL", "STORED", "NEW", "LABEL");
  for (const auto& r : rows) {
    std::printf("%-16s  %-20s  %-24s  %10s  %10s  %10s  %s\n", FieldText(r, "snapshot").c_str(),
                FieldText(r, "time").substr(0, 19).c_str(), FieldText(r, "source").c_str(), Human(FieldNumber(r, "logical")).c_str(),
                Human(FieldNumber(r, "stored")).c_str(), Human(FieldNumber(r, "new")).c_str(), FieldText(r, "label").c_str());
  }
  return 0;
}

int RemoteVerify(const Common&, const Remote& remote, const std::string& ref) {
  if (ref.empty()) Fail(Status::InvalidArgument("verify against a server needs a SNAPSHOT"));
  auto client = Check(Client::Connect(remote));
  Check(client->SendLine("VERIFY " + Arg(ref)));
  auto r = Check(client->ReadReply());
  std::printf("verified %s: %llu streams, %llu bytes\n", FieldText(r, "verified").c_str(),
              static_cast<unsigned long long>(FieldNumber(r, "streams")), static_cast<unsigned long long>(FieldNumber(r, "bytes")));
  return 0;
}

int RemoteDelete(const Common&, const Remote& remote, const std::string& ref, const std::string& reason) {
  auto client = Check(Client::Connect(remote));
  Check(client->SendLine("DELETE " + Arg(ref) + (reason.empty() ? "" : " reason=" + Arg(reason))));
  auto r = Check(client->ReadReply());
  std::printf("deleted %s\n", FieldText(r, "deleted").c_str());
  return 0;
}

}  // namespace bv::tool
