#include "server/session.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "base/time_format.h"
#include "engine/delete.h"
#include "engine/put_session.h"
#include "engine/recipe_walk.h"
#include "engine/restore.h"
#include "engine/snapshot_ref.h"
#include "format/segment_format.h"
#include "format/snapshot_format.h"
#include "io/file_splicer.h"
#include "io/zero_copy_sender.h"
#include "server/request.h"
#include "server/server.h"

namespace bv::server {

namespace {

constexpr size_t kReadBufferSize = 64 << 10;
constexpr int kPollSliceMs = 250;           // how often a waiting session looks at `stopping`
constexpr int kDrainAfterErrorMs = 10000;   // input read and dropped after a failed PUT, at most
constexpr int kResumeWaitMs = 5000;         // for the connection a session came from to let go

const char* ErrorCode(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk: return "ok";
    case Status::Code::kNotFound: return "not-found";
    case Status::Code::kCorruption: return "corrupt";
    case Status::Code::kInvalidArgument: return "bad-request";
    case Status::Code::kIOError: return "io";
    case Status::Code::kNotSupported: return "not-supported";
    case Status::Code::kBusy: return "busy";
    case Status::Code::kNoSpace: return "no-space";
    case Status::Code::kQuota: return "quota";
    case Status::Code::kTimedOut: return "timeout";
  }
  return "internal";
}

// One line of text: a message never breaks the line framing.
std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

// Request lines, then (for PUT) the bytes after them, from one socket.
class Connection {
 public:
  Connection(Server* server, io::Socket* socket) : server_(server), socket_(socket), buf_(kReadBufferSize, '\0') {}

  // The next line without its newline; nullopt at a clean end between requests. Waits at most
  // timeout_ms for each piece, and gives up early when the server is stopping and `interruptible`.
  Result<std::optional<std::string>> ReadLine(int timeout_ms, bool interruptible) {
    for (;;) {
      const size_t nl = std::string_view(buf_.data() + begin_, end_ - begin_).find('\n');
      if (nl != std::string_view::npos) {
        std::string line(buf_.data() + begin_, nl);
        begin_ += nl + 1;
        return std::optional<std::string>(std::move(line));
      }
      if (end_ - begin_ >= kLineMax) {
        return Status::InvalidArgument("request line is longer than " + std::to_string(kLineMax) + " bytes");
      }
      Compact();
      BV_ASSIGN_OR_RETURN(size_t got, Fill(timeout_ms, interruptible));
      if (got == 0) {
        if (end_ == begin_) return std::optional<std::string>();
        return Status::InvalidArgument("connection closed in the middle of a request line");
      }
    }
  }

  // Bytes after the last line: buffered ones first, then the socket's.
  Result<size_t> ReadBytes(char* dst, size_t n, int timeout_ms) {
    if (begin_ < end_) {
      n = std::min(n, end_ - begin_);
      std::memcpy(dst, buf_.data() + begin_, n);
      begin_ += n;
      return n;
    }
    return socket_->Read(dst, n, timeout_ms);
  }

  Status Reply(const std::string& line) { return socket_->WriteAll(line + "\n", write_timeout_ms_); }
  Status ReplyError(const Status& s) {
    return Reply(std::string("ERR ") + ErrorCode(s) + " " + OneLine(s.message()));
  }
  // The last reply before the connection closes: a send that fails means the peer has gone, and
  // there is no one left to tell. Both return false, the caller's "close the connection".
  bool LastReply(const std::string& line) {
    (void)Reply(line);
    return false;
  }
  bool LastError(const Status& s) {
    (void)ReplyError(s);
    return false;
  }
  // No more bytes go out (the peer reads to the end); a failure means it has gone already.
  void EndOutput() { (void)socket_->ShutdownWrite(); }
  Status Write(std::string_view bytes) { return socket_->WriteAll(bytes, write_timeout_ms_); }
  void set_write_timeout_ms(int ms) { write_timeout_ms_ = ms; }
  int write_timeout_ms() const { return write_timeout_ms_; }
  io::Socket* socket() { return socket_; }

  // After refusing a push, read and drop what the client is still sending (for a while), so its
  // side sees our error line rather than a reset that may destroy it.
  void DrainInput() {
    EndOutput();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kDrainAfterErrorMs);
    while (std::chrono::steady_clock::now() < deadline) {
      begin_ = end_ = 0;
      auto got = socket_->Read(buf_.data(), buf_.size(), kPollSliceMs);
      if (got.ok() && *got == 0) return;
      if (!got.ok() && got.status().code() != Status::Code::kTimedOut) return;
    }
  }

 private:
  void Compact() {
    if (begin_ == 0) return;
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  Result<size_t> Fill(int timeout_ms, bool interruptible) {
    int waited = 0;
    for (;;) {
      const int slice = interruptible ? std::min(kPollSliceMs, timeout_ms - waited) : timeout_ms;
      auto got = socket_->Read(buf_.data() + end_, buf_.size() - end_, slice);
      if (got.ok()) {
        end_ += *got;
        return *got;
      }
      if (got.status().code() != Status::Code::kTimedOut || !interruptible) return got.status();
      waited += slice;
      if (server_->stopping()) return Status::Busy("the server is shutting down");
      if (waited >= timeout_ms) {
        return Status::TimedOut("no request for " + std::to_string(timeout_ms / 1000) + " s");
      }
    }
  }

  Server* server_;
  io::Socket* socket_;
  std::string buf_;
  size_t begin_ = 0, end_ = 0;
  int write_timeout_ms_ = 10000;
};

// A raw push's bytes: everything up to the client's half-close, or exactly size= bytes.
class PushInput final : public engine::InputStream {
 public:
  PushInput(Connection* conn, int timeout_ms, std::optional<uint64_t> size)
      : conn_(conn), timeout_ms_(timeout_ms), size_(size) {}
  Result<size_t> Read(char* dst, size_t n) override {
    if (size_ && received_ == *size_) {
      // The declared end: anything more is an error, and the client must half-close.
      char extra;
      BV_ASSIGN_OR_RETURN(size_t got, conn_->ReadBytes(&extra, 1, timeout_ms_));
      if (got != 0) return Status::InvalidArgument("more bytes arrived than size=" + std::to_string(*size_));
      return size_t{0};
    }
    if (size_) n = static_cast<size_t>(std::min<uint64_t>(n, *size_ - received_));
    auto got = conn_->ReadBytes(dst, n, timeout_ms_);
    if (!got.ok()) {
      if (got.status().code() == Status::Code::kTimedOut) {
        return Status::TimedOut("the client sent nothing for " + std::to_string(timeout_ms_ / 1000) + " s after " +
                                std::to_string(received_) + " bytes");
      }
      return Status::IOError("the connection failed after " + std::to_string(received_) + " bytes: " +
                             got.status().message());
    }
    if (*got == 0 && size_ && received_ < *size_) {
      return Status::InvalidArgument("the connection closed after " + std::to_string(received_) + " of size=" +
                                     std::to_string(*size_) + " bytes");
    }
    received_ += *got;
    return got;
  }
  uint64_t received() const { return received_; }

 private:
  Connection* conn_;
  int timeout_ms_;
  std::optional<uint64_t> size_;
  uint64_t received_ = 0;
};

// The bytes of one DATA frame, read from the connection straight into the session's pipeline.
class FrameInput final : public engine::InputStream {
 public:
  FrameInput(Connection* conn, int timeout_ms, uint64_t size) : conn_(conn), timeout_ms_(timeout_ms), left_(size) {}
  Result<size_t> Read(char* dst, size_t n) override {
    if (left_ == 0) return size_t{0};
    auto got = conn_->ReadBytes(dst, static_cast<size_t>(std::min<uint64_t>(n, left_)), timeout_ms_);
    if (got.ok() && *got == 0) got = Status::IOError("the connection closed " + std::to_string(left_) + " bytes short");
    if (!got.ok()) return failed_ = got.status();
    left_ -= *got;
    return got;
  }
  uint64_t left() const { return left_; }
  const Status& failed() const { return failed_; }  // the connection's failure, not the session's

 private:
  Connection* conn_;
  int timeout_ms_;
  uint64_t left_;
  Status failed_;
};

// A raw restore's bytes go straight to the socket, sent from the restore's own buffers with
// zero-copy send where the kernel does it.
class SocketSink final : public engine::OutputSink {
 public:
  explicit SocketSink(Connection* conn) : conn_(conn), sender_(conn->socket(), kSessionSendHeld) {}
  Status Write(std::string_view b) override {
    BV_RETURN_IF_ERROR(conn_->Write(b));
    written += b.size();
    return Status::Ok();
  }
  Status WriteHeld(std::span<const std::string_view> pieces, std::shared_ptr<const void> hold) override {
    BV_RETURN_IF_ERROR(sender_.Send(pieces, std::move(hold), conn_->write_timeout_ms()));
    for (std::string_view p : pieces) written += p.size();
    return Status::Ok();
  }
  // Waits until the kernel is done with every batch: a restore is reported whole only then.
  Status Finish() { return sender_.Flush(conn_->write_timeout_ms()); }
  const io::ZeroCopySender::Stats& stats() const { return sender_.stats(); }
  uint64_t written = 0;

 private:
  Connection* conn_;
  io::ZeroCopySender sender_;
};

Result<uint64_t> ParseUint(const std::string& key, const std::string& v) {
  if (v.empty() || v.size() > 19) return Status::InvalidArgument(key + "=" + v + ": expected a number");
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return Status::InvalidArgument(key + "=" + v + ": expected a number");
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

std::string SnapshotFields(const format::SnapshotRecord& r) {
  return "snapshot=" + format::SnapshotIdHex(r.id) + " source=" + EscapeValue(r.source) +
         " time=" + FormatTime(r.time_us) + " label=" + EscapeValue(r.label) +
         " streams=" + std::to_string(r.streams.size()) + " logical=" + std::to_string(r.logical_bytes()) +
         " stored=" + std::to_string(r.stored_bytes) + " new=" + std::to_string(r.new_bytes);
}

class Session {
 public:
  Session(Server* server, io::Socket* socket) : server_(server), conn_(server, socket) {}
  ~Session() {
    if (tenant_ && entered_) tenant_->LeaveSession();
  }

  void Run() {
    const ServerConfig settings = server_->settings();
    const int login_ms = static_cast<int>(settings.login_timeout_s) * 1000;
    for (;;) {
      const int timeout_ms = tenant_ ? static_cast<int>(tenant_->config().idle_timeout_s) * 1000 : login_ms;
      auto line = conn_.ReadLine(timeout_ms, /*interruptible=*/true);
      if (!line.ok()) {
        if (line.status().code() == Status::Code::kBusy) {
          conn_.LastReply("ERR shutting-down the server is stopping; reconnect later");
        } else {
          conn_.LastError(line.status());
        }
        Log(spdlog::level::info, "closed: " + line.status().ToString());
        return;
      }
      if (!*line) return;  // a clean end
      auto req = ParseRequest(**line);
      if (!req.ok()) {
        conn_.LastError(req.status());
        Log(spdlog::level::warn, "bad request: " + req.status().message());
        return;
      }
      if (!Dispatch(*req, settings)) return;
    }
  }

 private:
  void Log(spdlog::level::level_enum level, const std::string& what) const {
    spdlog::log(level, "peer={} tenant={} {}", conn_socket_peer(), tenant_ ? tenant_->name() : "-", what);
  }
  std::string conn_socket_peer() const { return const_cast<Connection&>(conn_).socket()->peer(); }

  // false: the session ends.
  bool Dispatch(const Request& r, const ServerConfig& settings) {
    if (r.verb == "AUTH") return Auth(r, settings);
    if (!tenant_) return conn_.LastReply("ERR auth AUTH <tenant> <token> must come first");
    if (r.verb == "PUT") return Put(r);
    if (r.verb == "BEGIN" || r.verb == "RESUME") return Framed(r);
    if (r.verb == "GET") return Get(r);
    if (r.verb == "LIST") return List(r);
    if (r.verb == "STAT") return Stat(r);
    if (r.verb == "VERIFY") return Verify(r);
    if (r.verb == "DELETE") return Delete(r);
    if (r.verb == "QUIT") return conn_.LastReply("OK bye");
    return conn_.LastReply("ERR bad-request unknown verb " + r.verb);
  }

  bool Arity(const Request& r, size_t min, size_t max, std::initializer_list<const char*> options, const char* usage) {
    bool ok = r.args.size() >= min && r.args.size() <= max;
    for (const auto& [k, v] : r.options) {
      bool known = false;
      for (const char* o : options) known = known || k == o;
      if (!known) return conn_.LastReply("ERR bad-request " + r.verb + " takes no option " + k + "=; usage: " + usage);
    }
    if (!ok) return conn_.LastReply(std::string("ERR bad-request usage: ") + usage);
    return true;
  }

  bool Auth(const Request& r, const ServerConfig& settings) {
    if (tenant_) return conn_.LastReply("ERR bad-request already authenticated");
    if (!Arity(r, 2, 2, {}, "AUTH <tenant> <token>")) return false;
    std::shared_ptr<Tenant> t = server_->FindTenant(r.args[0]);
    std::optional<Role> role;
    if (t) {
      role = t->Authenticate(r.args[1]);
    } else {
      (void)TokenMatches(r.args[1], TokenHash(""));  // the same work for an unknown tenant
    }
    if (!role) {
      spdlog::warn("peer={} login failed for tenant \"{}\"", conn_socket_peer(), EscapeValue(r.args[0]));
      std::this_thread::sleep_for(std::chrono::milliseconds(settings.auth_failure_delay_ms));
      return conn_.LastReply("ERR auth unknown tenant or wrong token");
    }
    if (!t->TryEnterSession()) {
      return conn_.LastReply("ERR busy tenant " + t->name() + " has " + std::to_string(t->config().max_sessions) +
                             " sessions open, its limit; retry later");
    }
    tenant_ = t;
    entered_ = true;
    role_ = *role;
    conn_.set_write_timeout_ms(static_cast<int>(t->config().idle_timeout_s) * 1000);
    Log(spdlog::level::info, std::string("authenticated role=") + RoleName(role_));
    return true;  // silent on success, so a raw GET's output is the stream alone
  }

  bool Denied(const char* what) {
    return conn_.LastReply(std::string("ERR denied a ") + RoleName(role_) + " token may not " + what);
  }

  bool Put(const Request& r) {
    if (!RoleMayPush(role_)) return Denied("push");
    if (!Arity(r, 1, 1, {"label", "size", "time"}, "PUT <source> [label=L] [size=BYTES] [time=T]")) return false;
    const TenantConfig cfg = tenant_->config();
    engine::PutOptions o;
    o.source = r.args[0];
    if (const std::string* l = r.Option("label")) o.label = *l;
    std::optional<uint64_t> size;
    Status s = format::ValidateSourceName(o.source);
    if (s.ok()) s = format::ValidateLabel(o.label, "label");
    if (s.ok() && r.Option("size")) {
      auto n = ParseUint("size", *r.Option("size"));
      if (n.ok()) size = *n; else s = n.status();
    }
    if (s.ok() && r.Option("time")) {
      auto t = ParseTime(*r.Option("time"));
      if (t.ok()) o.time_us = *t; else s = t.status();
    }
    if (s.ok()) s = QuotaFor(cfg, &o);
    if (!s.ok()) {
      conn_.LastError(s);
      conn_.DrainInput();
      return false;
    }
    o.pool = server_->pool();
    o.budget = server_->budget();
    o.batch_input = kSessionBatchInput;
    PushInput in(&conn_, static_cast<int>(cfg.idle_timeout_s) * 1000, size);
    const auto start = std::chrono::steady_clock::now();
    auto rec = engine::Put(tenant_->volume(), o, {{"", &in}});
    if (!rec.ok()) {
      Log(spdlog::level::warn, "PUT " + EscapeValue(o.source) + " failed after " + std::to_string(in.received()) +
                                   " bytes: " + rec.status().ToString());
      conn_.LastError(rec.status());
      conn_.DrainInput();
      return false;
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    Log(spdlog::level::info, "PUT " + SnapshotFields(*rec) + " seconds=" + std::to_string(secs));
    return conn_.LastReply("OK " + SnapshotFields(*rec));  // the client half-closed: nothing more can come
  }

  // Framed mode (docs/protocol.md §6): a resumable push of named streams, in frames.
  bool Framed(const Request& r) {
    if (!RoleMayPush(role_)) return Denied("push");
    const TenantConfig cfg = tenant_->config();
    engine::PutOptions o;
    o.pool = server_->pool();
    o.budget = server_->budget();
    o.batch_input = kSessionBatchInput;
    std::unique_ptr<engine::PutSession> ps;
    if (r.verb == "BEGIN") {
      if (!Arity(r, 1, 1, {"label", "time"}, "BEGIN <source> [label=L] [time=T]")) return false;
      o.source = r.args[0];
      if (const std::string* l = r.Option("label")) o.label = *l;
      if (const std::string* t = r.Option("time")) {
        auto tu = ParseTime(*t);
        if (!tu.ok()) return conn_.LastError(Status::InvalidArgument("time=" + *t + ": " + tu.status().message()));
        o.time_us = *tu;
      }
    } else if (!Arity(r, 1, 1, {}, "RESUME <session>")) {
      return false;
    }
    if (Status q = QuotaFor(cfg, &o); !q.ok()) return conn_.LastError(q);
    // Sessions nobody resumed for the timeout are forgotten before a new one starts.
    (void)engine::ExpireSessions(tenant_->volume(),
                                 NowMicros() - static_cast<int64_t>(server_->settings().session_timeout_s) * 1000000,
                                 nullptr);
    if (r.verb == "BEGIN") {
      auto b = engine::PutSession::Begin(tenant_->volume(), o);
      if (!b.ok()) return conn_.LastError(b.status());
      ps = std::move(b).value();
      if (!conn_.Reply("OK session=" + format::SnapshotIdHex(ps->id())).ok()) return false;
    } else {
      uint64_t id = 0;
      if (!ParseSessionId(r.args[0], &id)) {
        return conn_.LastReply("ERR bad-request a session id is 16 hex digits");
      }
      // The connection it came from may not have noticed its end yet: give it a moment.
      auto b = engine::PutSession::Resume(tenant_->volume(), id, o);
      for (int i = 0; i < kResumeWaitMs / 100 && !b.ok() && b.status().code() == Status::Code::kBusy; i++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        b = engine::PutSession::Resume(tenant_->volume(), id, o);
      }
      if (!b.ok()) return conn_.LastError(b.status());
      ps = std::move(b).value();
      if (!conn_.Reply("OK session=" + format::SnapshotIdHex(ps->id()) + " " + Position(*ps)).ok()) return false;
      Log(spdlog::level::info, "RESUME " + format::SnapshotIdHex(ps->id()) + " " + Position(*ps));
    }
    const int idle_ms = static_cast<int>(cfg.idle_timeout_s) * 1000;
    for (;;) {
      auto line = conn_.ReadLine(idle_ms, /*interruptible=*/false);
      if (!line.ok() || !*line) {
        // The client went away: the session stays at its last sync, ready for RESUME.
        Log(spdlog::level::info, "session " + format::SnapshotIdHex(ps->id()) + " left at its last sync: " +
                                     (line.ok() ? std::string("connection closed") : line.status().ToString()));
        if (!line.ok()) conn_.LastError(line.status());
        return false;
      }
      auto req = ParseRequest(**line);
      if (!req.ok()) return conn_.LastError(req.status());
      const Request& f = *req;
      Status st;
      if (f.verb == "DATA") {
        auto size = f.args.size() == 1 && f.options.empty() ? ParseUint("DATA", f.args[0])
                                                           : Result<uint64_t>(Status::InvalidArgument("usage"));
        const uint64_t n = size.ok() ? size.value() : 0;
        if (n == 0 || n > kFrameMax) {
          return conn_.LastReply("ERR bad-request usage: DATA <1 to " + std::to_string(kFrameMax) + " bytes>");
        }
        // Read into the session's batch as it arrives. A frame cut short by a lost connection
        // leaves the session at its last sync, like any bytes after it.
        FrameInput in(&conn_, idle_ms, n);
        while (st.ok() && in.left() > 0) {
          auto got = ps->WriteFrom(&in);
          if (!in.failed().ok()) {
            Log(spdlog::level::info, "session " + format::SnapshotIdHex(ps->id()) + ": connection lost inside a frame: " +
                                         in.failed().ToString());
            return conn_.LastError(in.failed());
          }
          if (!got.ok()) st = got.status();
        }
      } else if (f.verb == "STREAM") {
        if (f.args.size() > 1 || !f.options.empty()) return conn_.LastReply("ERR bad-request usage: STREAM [name]");
        st = ps->StartStream(f.args.empty() ? "" : f.args[0]);
      } else if (f.verb == "END" && f.args.empty() && f.options.empty()) {
        st = ps->EndStream();
      } else if (f.verb == "SYNC" && f.args.empty() && f.options.empty()) {
        st = ps->Sync();
        if (st.ok()) Log(spdlog::level::debug, "session " + format::SnapshotIdHex(ps->id()) + " synced " + Position(*ps));
        if (st.ok() && !conn_.Reply("OK " + Position(*ps)).ok()) return false;
      } else if (f.verb == "COMMIT" && f.args.empty() && f.options.empty()) {
        auto rec = ps->Commit();
        if (!rec.ok()) return conn_.LastError(rec.status());
        Log(spdlog::level::info, "COMMIT " + SnapshotFields(*rec));
        return conn_.LastReply("OK " + SnapshotFields(*rec));
      } else if (f.verb == "ABORT" && f.args.empty() && f.options.empty()) {
        st = ps->Abort();
        if (st.ok()) return conn_.LastReply("OK aborted");
      } else {
        return conn_.LastReply("ERR bad-request in a session: DATA, STREAM, END, SYNC, COMMIT or ABORT, not " + f.verb);
      }
      if (!st.ok()) {
        Log(spdlog::level::warn, "session " + format::SnapshotIdHex(ps->id()) + " " + f.verb + ": " + st.ToString());
        return conn_.LastError(st);
      }
    }
  }

  static bool ParseSessionId(const std::string& s, uint64_t* id) {
    if (s.size() != 16) return false;
    uint64_t v = 0;
    for (char c : s) {
      int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
      if (d < 0) return false;
      v = (v << 4) | static_cast<uint64_t>(d);
    }
    *id = v;
    return v != 0;
  }

  static std::string Position(const engine::PutSession& ps) {
    return "streams=" + std::to_string(ps.streams_done()) + " open=" + (ps.in_stream() ? "1" : "0") +
           " offset=" + std::to_string(ps.in_stream() ? ps.offset() : 0);
  }

  // The tenant's quota as a limit on what this push may add; an error if it is already reached.
  Status QuotaFor(const TenantConfig& cfg, engine::PutOptions* o) {
    if (cfg.quota_bytes == 0) return Status::Ok();
    BV_ASSIGN_OR_RETURN(uint64_t used, tenant_->UsedBytes());
    if (used >= cfg.quota_bytes) {
      return Status::Quota("tenant " + tenant_->name() + " uses " + std::to_string(used) + " of its " +
                           std::to_string(cfg.quota_bytes) + " bytes");
    }
    o->new_bytes_max = cfg.quota_bytes - used;
    return Status::Ok();
  }

  // A session's restore: on the shared workers, with a small window (docs/protocol.md §10).
  engine::RestoreOptions RestoreSettings() {
    engine::RestoreOptions o;
    o.pool = server_->pool();
    o.batch_output = kSessionBatchOutput;
    o.batches_in_flight = kSessionRestoreBatches;
    o.read_window = kSessionReadWindow;
    return o;
  }

  // The snapshot a request names, or an error reply.
  std::optional<engine::SnapshotEntry> Resolve(const std::string& ref) {
    auto e = engine::ResolveSnapshot(tenant_->volume()->index(), ref);
    if (!e.ok()) {
      // Whether the session goes on is the caller's to say; a send that failed shows at the next read.
      (void)conn_.ReplyError(e.status());
      return std::nullopt;
    }
    return std::move(e).value();
  }

  bool Get(const Request& r) {
    if (!RoleMayRead(role_)) return Denied("restore");
    if (!Arity(r, 1, 1, {"stream", "range", "format"}, "GET <snapshot> [stream=NAME] [range=A-B] [format=blocks]")) {
      return false;
    }
    const std::string* format = r.Option("format");
    if (format && *format != "blocks" && *format != "bytes") {
      return conn_.LastReply("ERR bad-request format=" + EscapeValue(*format) + ": expected bytes or blocks");
    }
    auto snap = Resolve(r.args[0]);
    if (!snap) return false;
    engine::RestoreOptions o = RestoreSettings();
    const std::string* stream = r.Option("stream");
    auto index = engine::FindStream(snap->record, stream ? *stream : "");
    if (!index.ok()) return conn_.LastError(index.status());
    o.stream = *index;
    if (const std::string* range = r.Option("range")) {
      auto br = engine::ParseByteRange(*range, snap->record.streams[o.stream].length);
      if (!br.ok()) return conn_.LastError(br.status());
      o.range = *br;
    }
    if (format && *format == "blocks") return GetBlocks(*snap, o.stream, o.range);
    SocketSink sink(&conn_);
    Status s = engine::Restore(tenant_->volume(), *snap, o, &sink);
    if (Status f = sink.Finish(); s.ok()) s = f;
    if (s.ok()) {
      Log(spdlog::level::info, "GET " + format::SnapshotIdHex(snap->record.id) + " bytes=" + std::to_string(sink.written) +
                                   " zerocopy_sends=" + std::to_string(sink.stats().zerocopy_calls - sink.stats().copied_calls) +
                                   " copied_sends=" + std::to_string(sink.stats().copied_calls + sink.stats().plain_calls));
      conn_.EndOutput();
      return false;
    }
    Log(spdlog::level::warn, "GET " + format::SnapshotIdHex(snap->record.id) + " failed after " +
                                 std::to_string(sink.written) + " bytes: " + s.ToString());
    if (sink.written == 0) return conn_.LastError(s);
    // Bytes have gone out, so the reader cannot tell a short stream from a whole one: the stream
    // ends in an error line of its own (which breaks any consumer of the data, psql included)
    // (a reset would throw away unsent bytes, that line among them).
    std::string line = std::string("\nERR ") + ErrorCode(s) + " " + OneLine(s.message()) + "\n";
    (void)conn_.Write(line);
    conn_.EndOutput();
    return false;
  }

  // GET format=blocks (docs/protocol.md §7.1): the stored blocks, untouched, each spliced from its
  // segment file to the socket; the client checks and decodes them.
  bool GetBlocks(const engine::SnapshotEntry& snap, uint16_t stream, const std::optional<engine::ByteRange>& range) {
    engine::Volume* v = tenant_->volume();
    const format::StreamInfo& info = snap.record.streams[stream];
    const engine::ByteRange span = range ? *range : engine::ByteRange{0, info.length};
    auto splicer = io::FileSplicer::Create();
    if (!splicer.ok()) return conn_.LastError(splicer.status());
    std::string head = "OK snapshot=" + format::SnapshotIdHex(snap.record.id) + " stream=" + std::to_string(stream) +
                       " length=" + std::to_string(info.length) + " begin=" + std::to_string(span.begin) +
                       " end=" + std::to_string(span.end) + " encrypted=" + (v->params().cipher != format::Cipher::kNone ? "true" : "false");
    if (!range) head += " hash=" + HashHex(info.hash);
    if (!conn_.Reply(head).ok()) return false;
    engine::SegmentReader reader(v->env(), v->segments_dir(), kSessionReadWindow);
    uint64_t blocks = 0, bytes = 0;
    bool mid_block = false;  // a failure inside a block's bytes cannot be followed by a line
    Status s = engine::WalkRecipe(v, &reader, snap, stream, range, [&](const engine::ChunkRef& c) -> Status {
      BV_ASSIGN_OR_RETURN(auto loc, v->index()->GetChunk(c.entry.chunk_id));
      if (!loc) {
        return Status::Corruption(engine::StreamPlace(snap, stream, c.stream_offset) + ": the chunk is not in the index");
      }
      // The block's bytes follow at once: the line waits to share their packet.
      BV_RETURN_IF_ERROR(conn_.socket()->WriteAll("BLOCK offset=" + std::to_string(c.stream_offset) + " skip=" +
                                                      std::to_string(c.skip) + " take=" + std::to_string(c.take) +
                                                      " size=" + std::to_string(loc->total_size()) + "\n",
                                                  conn_.write_timeout_ms(), /*more=*/true));
      mid_block = true;
      BV_RETURN_IF_ERROR((*splicer)->Send(v->segments_dir() + "/" + format::SegmentFileName(loc->segment), loc->offset,
                                          loc->total_size(), conn_.socket(), conn_.write_timeout_ms()));
      mid_block = false;
      blocks++;
      bytes += c.take;
      return Status::Ok();
    });
    const std::string what = "GET " + format::SnapshotIdHex(snap.record.id) + " format=blocks";
    if (!s.ok()) {
      Log(spdlog::level::warn, what + " failed after " + std::to_string(blocks) + " blocks: " + s.ToString());
      if (!mid_block) conn_.LastError(s);
      conn_.EndOutput();
      return false;
    }
    Log(spdlog::level::info, what + " blocks=" + std::to_string(blocks) + " bytes=" + std::to_string(bytes));
    conn_.LastReply("OK blocks=" + std::to_string(blocks) + " bytes=" + std::to_string(bytes));
    conn_.EndOutput();
    return false;
  }

  static std::string HashHex(const std::array<uint8_t, 16>& h) {
    char hex[2 * 16 + 1];
    sodium_bin2hex(hex, sizeof hex, h.data(), h.size());
    return hex;
  }

  bool List(const Request& r) {
    if (!RoleMayRead(role_)) return Denied("list");
    if (!Arity(r, 0, 1, {"since", "until"}, "LIST [SOURCE] [since=T] [until=T]")) return false;
    int64_t since = INT64_MIN, until = INT64_MAX;
    for (auto [key, out] : {std::pair{"since", &since}, std::pair{"until", &until}}) {
      if (const std::string* v = r.Option(key)) {
        auto t = ParseTime(*v);
        if (!t.ok()) {
          return conn_.LastError(Status::InvalidArgument(std::string(key) + "=" + *v + ": " + t.status().message()));
        }
        *out = *t;
      }
    }
    const std::string source = r.args.empty() ? "" : r.args[0];
    uint64_t count = 0;
    Status write_status;
    Status s = tenant_->volume()->index()->ForEachSnapshot(source, [&](const engine::SnapshotEntry& e) {
      if (e.record.time_us < since || e.record.time_us > until) return true;
      count++;
      write_status = conn_.Reply("SNAPSHOT " + SnapshotFields(e.record));
      return write_status.ok();
    });
    if (!write_status.ok()) return false;
    if (!s.ok()) return conn_.LastError(s);
    return conn_.Reply("OK count=" + std::to_string(count)).ok();
  }

  bool Stat(const Request& r) {
    if (!Arity(r, 0, 1, {}, "STAT [SNAPSHOT]")) return false;
    if (r.args.empty()) {
      const TenantConfig cfg = tenant_->config();
      auto used = tenant_->UsedBytes();
      if (!used.ok()) return conn_.LastError(used.status());
      return conn_.Reply("OK tenant=" + tenant_->name() + " role=" + RoleName(role_) + " used=" + std::to_string(*used) +
                         " quota=" + std::to_string(cfg.quota_bytes) + " sessions=" +
                         std::to_string(tenant_->sessions()) + " max_sessions=" + std::to_string(cfg.max_sessions) +
                         " append_only=" + (cfg.append_only ? "true" : "false"))
          .ok();
    }
    if (!RoleMayRead(role_)) return Denied("read snapshots");
    auto snap = Resolve(r.args[0]);
    if (!snap) return true;  // answered; the session goes on
    for (size_t i = 0; i < snap->record.streams.size(); i++) {
      const format::StreamInfo& st = snap->record.streams[i];
      if (!conn_.Reply("STREAM index=" + std::to_string(i) + " name=" + EscapeValue(st.name) + " length=" +
                       std::to_string(st.length) + " chunks=" + std::to_string(st.chunk_count))
               .ok()) {
        return false;
      }
    }
    return conn_.Reply("OK " + SnapshotFields(snap->record)).ok();
  }

  bool Verify(const Request& r) {
    if (!RoleMayRead(role_)) return Denied("verify");
    if (!Arity(r, 1, 1, {}, "VERIFY <snapshot>")) return false;
    auto snap = Resolve(r.args[0]);
    if (!snap) return true;  // answered; the session goes on
    uint64_t bytes = 0;
    for (size_t i = 0; i < snap->record.streams.size(); i++) {
      engine::RestoreOptions o = RestoreSettings();
      o.stream = static_cast<uint16_t>(i);
      o.body_check = engine::BodyCheck::kAlways;
      engine::NullSink sink;
      Status s = engine::Restore(tenant_->volume(), *snap, o, &sink);
      if (!s.ok()) {
        Log(spdlog::level::err, "VERIFY " + format::SnapshotIdHex(snap->record.id) + ": " + s.ToString());
        return conn_.ReplyError(s).ok();
      }
      bytes += snap->record.streams[i].length;
    }
    return conn_.Reply("OK verified=" + format::SnapshotIdHex(snap->record.id) + " streams=" +
                       std::to_string(snap->record.streams.size()) + " bytes=" + std::to_string(bytes))
        .ok();
  }

  bool Delete(const Request& r) {
    if (!RoleMayDelete(role_)) return Denied("delete");
    if (tenant_->config().append_only) {
      return conn_.LastReply("ERR denied tenant " + tenant_->name() + " is append-only: only retention removes snapshots");
    }
    if (!Arity(r, 1, 1, {"reason"}, "DELETE <snapshot> [reason=TEXT]")) return false;
    auto snap = Resolve(r.args[0]);
    if (!snap) return true;  // answered; the session goes on
    const std::string* reason = r.Option("reason");
    Status s = engine::DeleteSnapshot(tenant_->volume(), snap->record, reason ? *reason : "deleted by a client");
    if (!s.ok()) return conn_.ReplyError(s).ok();
    Log(spdlog::level::info, "DELETE " + format::SnapshotIdHex(snap->record.id));
    return conn_.Reply("OK deleted=" + format::SnapshotIdHex(snap->record.id)).ok();
  }

  Server* server_;
  Connection conn_;
  std::shared_ptr<Tenant> tenant_;
  bool entered_ = false;
  Role role_ = Role::kPush;
};

}  // namespace

void RunSession(Server* server, io::Socket* socket) {
  Session s(server, socket);
  s.Run();
}

}  // namespace bv::server
