// bvtool push, get, ls, verify and delete against a running bvd (--server).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "base/time_format.h"
#include "engine/snapshot_ref.h"
#include "tools/bvtool/client.h"
#include "tools/bvtool/commands.h"

namespace bv::tool {

using nlohmann::json;

namespace {

constexpr size_t kSendChunk = 1 << 20;
constexpr size_t kHoldBack = 64 << 10;  // longer than any error line

uint64_t Number(const server::Reply& r, const char* key) {
  const std::string* v = r.Field(key);
  if (v == nullptr) Fail(Status::Corruption(std::string("the server's reply has no ") + key + "="));
  try {
    return std::stoull(*v);
  } catch (const std::exception&) {
    Fail(Status::Corruption(std::string("the server's reply has a bad ") + key + "=" + *v));
  }
}

std::string Text(const server::Reply& r, const char* key) {
  const std::string* v = r.Field(key);
  return v != nullptr ? *v : "";
}

json SnapshotFieldsJson(const server::Reply& r) {
  return {{"id", Text(r, "snapshot")},          {"source", Text(r, "source")},
          {"time", Text(r, "time")},            {"label", Text(r, "label")},
          {"streams", Number(r, "streams")},    {"logical_bytes", Number(r, "logical")},
          {"stored_bytes", Number(r, "stored")}, {"new_bytes", Number(r, "new")}};
}

std::string Arg(const std::string& v) { return server::EscapeValue(v); }

}  // namespace

int RemotePush(const Common& c, const Remote& remote, const std::string& source, const std::string& file,
               const std::string& label, const std::string& time) {
  int fd = STDIN_FILENO;
  std::string name = "standard input";
  if (!file.empty() && file != "-") {
    fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) Fail(Status::FromErrno("open " + file, errno));
    name = file;
  }
  // A regular file's size goes with the push, so that a cut connection can never pass for its end.
  std::optional<uint64_t> size;
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) size = static_cast<uint64_t>(st.st_size);
  std::string line = "PUT " + Arg(source);
  if (!label.empty()) line += " label=" + Arg(label);
  if (!time.empty()) line += " time=" + Arg(time);
  if (size) line += " size=" + std::to_string(*size);
  auto client = Check(Client::Connect(remote));
  Check(client->SendLine(line));
  Progress progress("push", size);
  std::string buf(kSendChunk, '\0');
  uint64_t sent = 0;
  Status send_status;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Fail(Status::FromErrno("read " + name, errno));
    if (n == 0) break;
    send_status = client->Send(std::string_view(buf.data(), static_cast<size_t>(n)));
    if (!send_status.ok()) break;  // the server's reply says why
    sent += static_cast<uint64_t>(n);
    progress.Update(sent);
  }
  if (send_status.ok()) send_status = client->HalfClose();
  auto reply = client->ReadReply();
  if (!reply.ok()) Fail(reply.status());
  if (!send_status.ok()) Fail(send_status);
  if (c.json) {
    std::cout << SnapshotFieldsJson(*reply).dump(2) << "\n";
  } else {
    std::printf("%s\n", Text(*reply, "snapshot").c_str());
  }
  return 0;
}

int RemoteGet(const Common&, const Remote& remote, const std::string& ref, const std::string& out_path,
              const std::string& range, const std::string& stream) {
  auto client = Check(Client::Connect(remote));
  // STAT first: the length to expect and the exact snapshot, so GET fetches that one.
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
      if (Text(s, "name") == stream) chosen = &s;
    }
    if (chosen == nullptr) Fail(Status::NotFound("snapshot has no stream named '" + stream + "'"));
  }
  if (chosen == nullptr) Fail(Status::Corruption("the server listed no streams"));
  uint64_t expect = Number(*chosen, "length");
  std::string line = "GET " + Text(snap, "snapshot");
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
  // The last bytes are held back until the end is seen: a restore that fails after sending some
  // bytes ends in an error line instead of the rest (docs/protocol.md §6), and that line must not
  // reach the output.
  std::string buf(kSendChunk, '\0');
  std::string held;
  uint64_t got_total = 0;
  Status s;
  while (s.ok()) {
    auto got = client->ReadBytes(buf.data(), buf.size());
    if (!got.ok()) {
      s = got.status();
      break;
    }
    if (*got == 0) break;
    held.append(buf.data(), *got);
    got_total += *got;
    if (held.size() > kHoldBack) {
      const size_t out = held.size() - kHoldBack;
      s = sink.Write(std::string_view(held).substr(0, out));
      held.erase(0, out);
    }
    progress.Update(got_total);
  }
  if (s.ok() && got_total != expect) {
    // Whole only if exactly the expected bytes came; otherwise the tail is the server's error.
    const size_t at = held.rfind("ERR ");
    Status why = Status::IOError("the restore stopped after " + std::to_string(got_total) + " of " +
                                 std::to_string(expect) + " bytes");
    if (at != std::string::npos && (at == 0 || held[at - 1] == '\n')) {
      std::string line = held.substr(at);
      while (!line.empty() && line.back() == '\n') line.pop_back();
      auto r = server::ParseReply(line);
      if (r.ok() && r->kind == "ERR") why = ServerError(*r);
    }
    s = why;
  }
  if (s.ok()) s = sink.Write(held);
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
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return Text(a, "time") > Text(b, "time"); });
  if (c.json) {
    json out = json::array();
    for (const auto& r : rows) out.push_back(SnapshotFieldsJson(r));
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("%-16s  %-20s  %-24s  %10s  %10s  %10s  %s\n", "ID", "TIME", "SOURCE", "LOGICAL", "STORED", "NEW", "LABEL");
  for (const auto& r : rows) {
    std::printf("%-16s  %-20s  %-24s  %10s  %10s  %10s  %s\n", Text(r, "snapshot").c_str(),
                Text(r, "time").substr(0, 19).c_str(), Text(r, "source").c_str(), Human(Number(r, "logical")).c_str(),
                Human(Number(r, "stored")).c_str(), Human(Number(r, "new")).c_str(), Text(r, "label").c_str());
  }
  return 0;
}

int RemoteVerify(const Common&, const Remote& remote, const std::string& ref) {
  if (ref.empty()) Fail(Status::InvalidArgument("verify against a server needs a SNAPSHOT"));
  auto client = Check(Client::Connect(remote));
  Check(client->SendLine("VERIFY " + Arg(ref)));
  auto r = Check(client->ReadReply());
  std::printf("verified %s: %llu streams, %llu bytes\n", Text(r, "verified").c_str(),
              static_cast<unsigned long long>(Number(r, "streams")), static_cast<unsigned long long>(Number(r, "bytes")));
  return 0;
}

int RemoteDelete(const Common&, const Remote& remote, const std::string& ref, const std::string& reason) {
  auto client = Check(Client::Connect(remote));
  Check(client->SendLine("DELETE " + Arg(ref) + (reason.empty() ? "" : " reason=" + Arg(reason))));
  auto r = Check(client->ReadReply());
  std::printf("deleted %s\n", Text(r, "deleted").c_str());
  return 0;
}

}  // namespace bv::tool
