#include "server/session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "server/protocol_text.h"
#include "server/request.h"
#include "server/server.h"
#include "server/session_verbs.h"

namespace bv::server {

namespace {

constexpr int kDrainAfterBadLineMs = 2000;  // input read and dropped after refusing a line, at most

// Reads request lines until the session ends: AUTH first, then the verbs of session_verbs.h.
class Session {
 public:
  Session(Server* server, io::Socket* socket, Admission::Ticket* ticket)
      : ctx_(server, socket), ticket_(ticket), address_(PeerAddress(socket->peer())) {}
  ~Session() {
    if (ctx_.tenant && entered_) ctx_.tenant->LeaveSession();
  }

  void Run() {
    const ServerConfig settings = ctx_.server->settings();
    // The login has one deadline from the accept on, however its bytes arrive.
    const auto login_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(settings.login_timeout_s);
    for (;;) {
      int timeout_ms = 0;
      if (ctx_.tenant) {
        timeout_ms = static_cast<int>(ctx_.tenant->config().idle_timeout_s) * 1000;
      } else {
        const auto left = login_deadline - std::chrono::steady_clock::now();
        timeout_ms = static_cast<int>(std::max<int64_t>(
            1, std::chrono::duration_cast<std::chrono::milliseconds>(left).count()));
      }
      auto line = ctx_.conn.ReadLine(timeout_ms, /*interruptible=*/true);
      if (!line.ok() && !ctx_.tenant && line.status().code() == Status::Code::kTimedOut) {
        line = Status::TimedOut("no successful AUTH within " + std::to_string(settings.login_timeout_s) +
                                " s of connecting (login_timeout_seconds)");
      }
      if (!line.ok() && ticket_->evicted()) {
        OutsiderLog("closed before AUTH: its slot went to a newer connection (max_unauthenticated)");
        return;
      }
      if (!line.ok()) {
        if (line.status().code() == Status::Code::kBusy) {
          ctx_.conn.LastReply("ERR shutting-down the server is stopping; reconnect later");
        } else {
          ctx_.conn.LastError(line.status());
          // The rest of an over-long or broken line may still be on its way: read it, so the close
          // is orderly and the client gets to read the error.
          if (line.status().code() == Status::Code::kInvalidArgument) ctx_.conn.DrainInput(kDrainAfterBadLineMs);
        }
        ctx_.Log(spdlog::level::info, "closed: " + line.status().ToString());
        return;
      }
      if (!*line) return;  // a clean end
      auto req = ParseRequest(**line);
      if (!req.ok()) {
        ctx_.conn.LastError(req.status());
        ctx_.conn.DrainInput(kDrainAfterBadLineMs);
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
    if (r.verb == "PRUNE") return HandlePrune(&ctx_, r);
    if (r.verb == "COMPACT") return HandleCompact(&ctx_, r);
    if (r.verb == "DF") return HandleDf(&ctx_, r);
    if (r.verb == "JOBS") return HandleJobs(&ctx_, r);
    if (r.verb == "HISTORY") return HandleJobHistory(&ctx_, r);
    if (r.verb == "RUN") return HandleRunJob(&ctx_, r);
    if (r.verb == "CANCEL") return HandleCancelJob(&ctx_, r);
    if (r.verb == "QUIT") return ctx_.conn.LastReply("OK bye");
    return ctx_.conn.LastReply("ERR bad-request unknown verb " + r.verb);
  }

  bool Auth(const Request& r, const ServerConfig& settings) {
    if (ctx_.tenant) return ctx_.conn.LastReply("ERR bad-request already authenticated");
    if (!ctx_.Arity(r, 2, 2, {}, "AUTH <tenant> <token>")) return false;
    const AuthLimits limits{settings.auth_failures_per_minute, settings.auth_failure_burst,
                            settings.auth_failures_per_minute_global, settings.auth_failure_burst_global};
    AuthLimiter* limiter = ctx_.server->auth_limiter();
    std::shared_ptr<Tenant> t = ctx_.server->FindTenant(r.args[0]);
    // Failures count per address and tenant: a host's stale token for one tenant does not lock
    // out its logins to the others. Unknown tenants share one count.
    const std::string who = address_ + (t ? " for tenant " + t->name() : " for unknown tenants");
    if (Status may = limiter->MayTry(who, limits); !may.ok()) {
      OutsiderLog("login refused unchecked for tenant \"" + EscapeValue(r.args[0]) + "\": " + may.message());
      return ctx_.conn.LastError(may);
    }
    std::optional<Role> role;
    if (t) {
      role = t->Authenticate(r.args[1]);
    } else {
      (void)TokenMatches(r.args[1], TokenHash(""));  // the same work for an unknown tenant
    }
    if (!role) {
      limiter->Failed(who, limits);
      OutsiderLog("login failed for tenant \"" + EscapeValue(r.args[0]) + "\"");
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
    ticket_->Authenticated();
    ctx_.role = *role;
    ctx_.conn.set_write_timeout_ms(static_cast<int>(t->config().idle_timeout_s) * 1000);
    ctx_.Log(spdlog::level::info, std::string("authenticated role=") + RoleName(ctx_.role));
    return true;  // silent on success, so a raw GET's output is the stream alone
  }

  // A warning an outsider can cause, within the server's log rate.
  void OutsiderLog(const std::string& what) {
    if (std::string more; ctx_.server->outsider_log()->Allow(&more)) {
      spdlog::warn("peer={} {}{}", ctx_.conn.peer(), what, more);
    }
  }

  SessionContext ctx_;
  Admission::Ticket* ticket_;
  const std::string address_;
  bool entered_ = false;
};

}  // namespace

void RunSession(Server* server, io::Socket* socket, Admission::Ticket* ticket) {
  Session s(server, socket, ticket);
  s.Run();
}

}  // namespace bv::server
