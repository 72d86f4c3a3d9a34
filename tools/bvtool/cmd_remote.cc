// bvtool push, ls, verify and delete against a running bvd (--server); get is in cmd_get_remote.cc
// and cmd_get_blocks.cc.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <thread>

#include "base/time_format.h"
#include "engine/snapshot_ref.h"
#include "engine/stream_io.h"
#include "tools/bvtool/client.h"
#include "tools/bvtool/commands.h"

namespace bv::tool {

using nlohmann::json;

namespace {

uint64_t Number(const server::Reply& r, const char* key) { return Check(ReplyNumber(r, key)); }

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

namespace {

// One stream of a push: a regular file, or a pipe (standard input) read once.
struct PushStream {
  std::string name;
  std::string path;  // "-": standard input
  int fd = -1;
  std::optional<uint64_t> size;  // a regular file's, as last seen: it may still grow
  bool regular() const { return size.has_value(); }
};

// Pushes the streams in frames (docs/protocol.md §6), resuming the session after a lost
// connection. A regular file is sent from the page cache by splice and, after a reconnect, sent
// again from the offset the server synced. A pipe is read once: the bytes after the last sync are
// kept, read straight into a buffer of fixed size, and sent from it.
class Pusher {
 public:
  // sync_every: bytes between acknowledged syncs, for files and pipes alike; 0: the defaults.
  Pusher(const Remote& remote, std::vector<PushStream> streams, std::string begin_line, uint64_t sync_every)
      : remote_(remote),
        streams_(std::move(streams)),
        begin_line_(std::move(begin_line)),
        file_sync_every_(sync_every != 0 ? sync_every : kFileSyncEvery),
        pipe_sync_every_(sync_every != 0 ? static_cast<size_t>(sync_every) : kPipeSyncEvery) {
    for (const auto& s : streams_) total_ = total_ && s.size ? std::optional<uint64_t>(*total_ + *s.size) : std::nullopt;
  }

  Result<server::Reply> Run() {
    Progress progress("push", total_);
    progress_ = &progress;
    int failures = 0;
    for (;;) {
      auto r = Attempt();
      if (r.ok()) return r;
      // Only a lost connection is worth a retry; what the server refused stays refused.
      const Status& s = r.status();
      const bool lost = s.code() == Status::Code::kIOError && s.message().rfind("bvd: ", 0) != 0;
      if (!lost || session_.empty() || ++failures > kRetriesMax) return s;
      const int wait_ms = std::min(30000, 500 << std::min(failures, 6));
      std::fprintf(stderr, "\nbvtool: %s; resuming session %s in %.1f s (try %d of %d)\n", s.message().c_str(),
                   session_.c_str(), wait_ms / 1000.0, failures, kRetriesMax);
      std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    }
  }

 private:
  static constexpr int kRetriesMax = 8;
  // Bytes between acknowledged syncs. A pipe's are held in memory until its sync; a file's are
  // sent again from the file, so it syncs less often (each sync drains the server's pipeline).
  static constexpr size_t kPipeSyncEvery = 32 << 20;
  static constexpr uint64_t kFileSyncEvery = 256 << 20;
  static constexpr size_t kFrame = 1 << 20;

  Result<server::Reply> Attempt() {
    BV_ASSIGN_OR_RETURN(auto client, Client::Connect(remote_));
    if (session_.empty()) {
      BV_RETURN_IF_ERROR(client->SendLine(begin_line_));
      BV_ASSIGN_OR_RETURN(server::Reply r, client->ReadReply());
      session_ = Text(r, "session");
    } else {
      BV_RETURN_IF_ERROR(Resume(client.get()));
    }
    for (size_t i = acked_stream_; i < streams_.size(); i++) {
      PushStream& s = streams_[i];
      if (!stream_open_) {
        BV_RETURN_IF_ERROR(client->SendLine("STREAM" + (s.name.empty() ? "" : " " + Arg(s.name))));
        stream_open_ = true;
      }
      // Bytes kept from before a reconnect go first, then new ones from the source.
      uint64_t at = acked_offset_;  // the stream offset sent next
      uint64_t since_sync = 0;
      for (;;) {
        BV_ASSIGN_OR_RETURN(size_t n, NextPiece(&s, at));
        if (n == 0) break;
        BV_RETURN_IF_ERROR(client->SendLine("DATA " + std::to_string(n), /*more=*/true));
        if (s.regular()) {
          BV_RETURN_IF_ERROR(client->SendFile(s.fd, s.path, at, n));
        } else {
          BV_RETURN_IF_ERROR(client->Send(std::string_view(kept_.get() + (at - acked_offset_), n)));
        }
        at += n;
        sent_ = std::max(sent_, at);
        since_sync += n;
        progress_->Update(base_ + at);
        if (since_sync >= (s.regular() ? file_sync_every_ : pipe_sync_every_)) {
          BV_RETURN_IF_ERROR(Sync(client.get(), at));
          since_sync = 0;
        }
      }
      BV_RETURN_IF_ERROR(client->SendLine("END"));
      stream_open_ = false;
      base_ += at;
      acked_stream_ = i + 1;
      acked_offset_ = 0;
      kept_len_ = 0;
      sent_ = 0;
      // Synced at every stream's end, so a resume never needs an earlier stream again.
      BV_RETURN_IF_ERROR(Sync(client.get(), 0));
    }
    BV_RETURN_IF_ERROR(client->SendLine("COMMIT"));
    return client->ReadReply();
  }

  // RESUME on a new connection: the server is at its last sync, which is at or after ours.
  Status Resume(Client* client) {
    BV_RETURN_IF_ERROR(client->SendLine("RESUME " + session_));
    BV_ASSIGN_OR_RETURN(server::Reply r, client->ReadReply());
    const size_t done = Number(r, "streams");
    const bool open = Text(r, "open") == "1";
    const uint64_t offset = Number(r, "offset");
    if (done < acked_stream_ || done > acked_stream_ + 1 ||
        (done == acked_stream_ && (open ? offset < acked_offset_ : acked_offset_ > 0))) {
      return Status::Corruption("the server's session is at stream " + std::to_string(done) + " offset " +
                                std::to_string(offset) + ", not where this push last synced");
    }
    if (done > acked_stream_) {  // it had ended our stream before the connection went
      base_ += sent_;  // it had all of the stream
      acked_stream_ = done;
      acked_offset_ = 0;
      kept_len_ = 0;
      sent_ = 0;
      stream_open_ = false;
    } else if (open) {
      if (offset > sent_) {
        return Status::Corruption("the server's session is at offset " + std::to_string(offset) +
                                  ", past what this push sent");
      }
      if (!streams_[acked_stream_].regular()) {  // drop what the server had synced
        const size_t synced = offset - acked_offset_;
        std::memmove(kept_.get(), kept_.get() + synced, kept_len_ - synced);
        kept_len_ -= synced;
      }
      acked_offset_ = offset;
      stream_open_ = true;
    } else {
      stream_open_ = false;
    }
    return Status::Ok();
  }

  // How many bytes to send from stream offset `at`: 0 at the stream's end. A pipe's come from the
  // kept bytes, or are read into them.
  Result<size_t> NextPiece(PushStream* s, uint64_t at) {
    if (s->regular()) {
      if (at >= *s->size) {  // the file may have grown since it was last seen
        struct stat st;
        if (::fstat(s->fd, &st) != 0) return Status::FromErrno("stat " + s->path, errno);
        s->size = static_cast<uint64_t>(st.st_size);
        if (at > *s->size) {
          return Status::Corruption(s->path + " shrank to " + std::to_string(*s->size) + " bytes while " +
                                    std::to_string(at) + " were pushed");
        }
      }
      return static_cast<size_t>(std::min<uint64_t>(kFrame, *s->size - at));
    }
    const size_t held = static_cast<size_t>(at - acked_offset_);
    if (held < kept_len_) return std::min(kFrame, kept_len_ - held);
    if (!kept_) kept_.reset(new char[pipe_sync_every_ + kFrame]);  // not zeroed: pages are touched as used
    BV_ASSERT(kept_len_ < pipe_sync_every_);  // a sync empties it before it gets there
    for (;;) {
      ssize_t n = ::read(s->fd, kept_.get() + kept_len_, kFrame);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::FromErrno("read " + s->path, errno);
      kept_len_ += static_cast<size_t>(n);
      return static_cast<size_t>(n);
    }
  }

  // SYNC, and checks that the server holds exactly the stream up to `offset` (at a stream's end,
  // the session is between streams and no offset is checked).
  Status Sync(Client* client, uint64_t offset) {
    BV_RETURN_IF_ERROR(client->SendLine("SYNC"));
    BV_ASSIGN_OR_RETURN(server::Reply r, client->ReadReply());
    const uint64_t synced = Number(r, "offset");
    if (Text(r, "open") == "1") {
      if (synced != offset) {
        return Status::Corruption("the server synced offset " + std::to_string(synced) + ", not " +
                                  std::to_string(offset));
      }
      acked_offset_ = synced;
    }
    kept_len_ = 0;
    return Status::Ok();
  }

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
};

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
  Pusher pusher(remote, std::move(streams), begin, sync_every);
  auto reply = pusher.Run();
  if (!reply.ok()) Fail(reply.status());
  if (c.json) {
    std::cout << SnapshotFieldsJson(*reply).dump(2) << "\n";
  } else {
    std::printf("%s\n", Text(*reply, "snapshot").c_str());
  }
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
