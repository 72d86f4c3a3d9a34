#include "server/session.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "server/protocol_text.h"
#include "server/request.h"
#include "server/server.h"
#include "server/session_verbs.h"

namespace bv::server {

namespace {

// Reads request lines until the session ends: AUTH first, then the verbs of session_verbs.h.
class Session {
 public:
  Session(Server* server, io::Socket* socket) : ctx_(server, socket) {}
  ~Session() {
    if (ctx_.tenant && entered_) ctx_.tenant->LeaveSession();
  }

  void Run() {
    const ServerConfig settings = ctx_.server->settings();
    const int login_ms = static_cast<int>(settings.login_timeout_s) * 1000;
    for (;;) {
      const int timeout_ms = ctx_.tenant ? static_cast<int>(ctx_.tenant->config().idle_timeout_s) * 1000 : login_ms;
      auto line = ctx_.conn.ReadLine(timeout_ms, /*interruptible=*/true);
      if (!line.ok()) {
        if (line.status().code() == Status::Code::kBusy) {
          ctx_.conn.LastReply("ERR shutting-down the server is stopping; reconnect later");
        } else {
          ctx_.conn.LastError(line.status());
        }
        ctx_.Log(spdlog::level::info, "closed: " + line.status().ToString());
        return;
      }
      if (!*line) return;  // a clean end
      auto req = ParseRequest(**line);
      if (!req.ok()) {
        ctx_.conn.LastError(req.status());
        ctx_.Log(spdlog::level::warn, "bad request: " + req.status().message());
        return;
      }
      if (!Dispatch(*req, settings)) return;
    }
  }

 private:
  // false: the session ends.
  bool Dispatch(const Request& r, const ServerConfig& settings) {
    if (r.verb == "AUTH") return Auth(r, settings);
    if (!ctx_.tenant) return ctx_.conn.LastReply("ERR auth AUTH <tenant> <token> must come first");
    if (r.verb == "PUT") return HandlePut(&ctx_, r);
    if (r.verb == "BEGIN" || r.verb == "RESUME") return HandleFramed(&ctx_, r);
    if (r.verb == "GET") return HandleGet(&ctx_, r);
    if (r.verb == "LIST") return HandleList(&ctx_, r);
    if (r.verb == "STAT") return HandleStat(&ctx_, r);
    if (r.verb == "VERIFY") return HandleVerify(&ctx_, r);
    if (r.verb == "DELETE") return HandleDelete(&ctx_, r);
    if (r.verb == "QUIT") return ctx_.conn.LastReply("OK bye");
    return ctx_.conn.LastReply("ERR bad-request unknown verb " + r.verb);
  }

  bool Auth(const Request& r, const ServerConfig& settings) {
    if (ctx_.tenant) return ctx_.conn.LastReply("ERR bad-request already authenticated");
    if (!ctx_.Arity(r, 2, 2, {}, "AUTH <tenant> <token>")) return false;
    std::shared_ptr<Tenant> t = ctx_.server->FindTenant(r.args[0]);
    std::optional<Role> role;
    if (t) {
      role = t->Authenticate(r.args[1]);
    } else {
      (void)TokenMatches(r.args[1], TokenHash(""));  // the same work for an unknown tenant
    }
    if (!role) {
      spdlog::warn("peer={} login failed for tenant \"{}\"", ctx_.conn.peer(), EscapeValue(r.args[0]));
      std::this_thread::sleep_for(std::chrono::milliseconds(settings.auth_failure_delay_ms));
      return ctx_.conn.LastReply("ERR auth unknown tenant or wrong token");
    }
    if (Status s = t->CheckClientCertificate(ctx_.conn.socket()->tls()); !s.ok()) {
      spdlog::warn("peer={} login refused: {}", ctx_.conn.peer(), s.message());
      std::this_thread::sleep_for(std::chrono::milliseconds(settings.auth_failure_delay_ms));
      return ctx_.conn.LastReply("ERR auth " + OneLine(s.message()));
    }
    if (!t->TryEnterSession()) {
      return ctx_.conn.LastReply("ERR busy tenant " + t->name() + " has " +
                                 std::to_string(t->config().max_sessions) + " sessions open, its limit; retry later");
    }
    ctx_.tenant = t;
    entered_ = true;
    ctx_.role = *role;
    ctx_.conn.set_write_timeout_ms(static_cast<int>(t->config().idle_timeout_s) * 1000);
    ctx_.Log(spdlog::level::info, std::string("authenticated role=") + RoleName(ctx_.role));
    return true;  // silent on success, so a raw GET's output is the stream alone
  }

  SessionContext ctx_;
  bool entered_ = false;
};

}  // namespace

void RunSession(Server* server, io::Socket* socket) {
  Session s(server, socket);
  s.Run();
}

}  // namespace bv::server
