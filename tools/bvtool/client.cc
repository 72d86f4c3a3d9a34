#include "tools/bvtool/client.h"

#include <signal.h>

#include <cstdlib>
#include <cstring>

#include "io/env.h"
#include "io/tls_certificate.h"
#include "server/protocol_text.h"

namespace bv::tool {

namespace {

constexpr size_t kReplyLineMax = 256 << 10;  // docs/protocol.md §3
constexpr int kConnectTimeoutMs = 10000;  // and as long again for the TLS handshake

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

// Connects to "tls://HOST:PORT" with TLS, verifying the server before anything is sent, or to
// "HOST:PORT" / "unix:/PATH" in plain.
Result<std::unique_ptr<io::Socket>> Open(const Remote& r, const std::string& server) {
  const bool tls = server.rfind("tls://", 0) == 0;
  if (!tls) {
    if (!r.ca_file.empty() || !r.fingerprint.empty() || r.insecure || !r.cert_file.empty()) {
      return Status::InvalidArgument("--ca, --fingerprint, --insecure and --cert are for a tls:// server, not " + server);
    }
    BV_ASSIGN_OR_RETURN(auto sock, io::Connect(server, kConnectTimeoutMs));
    if (!sock->local() && !r.plain) {
      return Status::InvalidArgument("plain TCP to " + server + ", another host, would send the token and the data " +
                                     "in clear: write tls://" + server + " (with --fingerprint or --ca), or --plain " +
                                     "to send them anyway");
    }
    return sock;
  }
  const std::string address = server.substr(6);
  io::TlsClientOptions o;
  o.ca_file = r.ca_file.empty() ? Env("BV_CA") : r.ca_file;
  const std::string fingerprint = r.fingerprint.empty() ? Env("BV_FINGERPRINT") : r.fingerprint;
  if (!fingerprint.empty()) {
    BV_ASSIGN_OR_RETURN(o.fingerprint, io::ParseFingerprint(fingerprint));
  }
  o.insecure = r.insecure;
  o.cert_file = r.cert_file;
  o.key_file = r.key_file;
  BV_ASSIGN_OR_RETURN(auto ctx, io::TlsContext::ForClient(o));
  ::signal(SIGPIPE, SIG_IGN);  // OpenSSL writes with write(2); a lost server must come back as an error
  BV_ASSIGN_OR_RETURN(auto sock, io::Connect(address, kConnectTimeoutMs));
  std::string host = address.substr(0, address.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  BV_RETURN_IF_ERROR(sock->StartTls(std::move(ctx), host, kConnectTimeoutMs));
  return sock;
}

}  // namespace

bool Remote::given() const { return !server.empty() || !Env("BV_SERVER").empty(); }

std::string Remote::TenantName() const {
  if (!tenant.empty()) return tenant;
  const std::string t = Env("BV_TENANT");
  return t.empty() ? "default" : t;
}

Status ServerError(const server::Reply& r) {
  return server::StatusFromErrorCode(r.error_code, "bvd: " + r.error_code + ": " + r.error_message);
}

Result<uint64_t> ReplyNumber(const server::Reply& r, const char* key) {
  const std::string* v = r.Field(key);
  if (v == nullptr) return Status::Corruption("bvd's " + r.kind + " line has no " + key + "=");
  const std::optional<uint64_t> n = server::ParseDecimal(*v);
  if (!n) return Status::Corruption("bvd's " + r.kind + " line has a bad " + key + "=" + *v);
  return *n;
}

Result<std::unique_ptr<Client>> Client::Connect(const Remote& r) {
  const std::string server = r.server.empty() ? Env("BV_SERVER") : r.server;
  const std::string tenant = r.TenantName();
  const std::string token_file = r.token_file.empty() ? Env("BV_TOKEN_FILE") : r.token_file;
  if (token_file.empty()) return Status::InvalidArgument("no token: give --token-file or BV_TOKEN_FILE");
  BV_ASSIGN_OR_RETURN(std::string token, io::ReadSmallFile(token_file, 4096));
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  BV_ASSIGN_OR_RETURN(auto sock, Open(r, server));
  std::unique_ptr<Client> c(new Client(std::move(sock)));
  BV_RETURN_IF_ERROR(c->SendLine("AUTH " + server::EscapeValue(tenant) + " " + token));
  return c;
}

Status Client::Send(std::string_view bytes, bool more) { return socket_->WriteAll(bytes, kTimeoutMs, more); }

Status Client::SendFile(int fd, const std::string& name, uint64_t off, size_t n) {
  if (!splicer_) {
    BV_ASSIGN_OR_RETURN(splicer_, io::FileSplicer::Create());
  }
  return splicer_->SendFrom(fd, name, off, n, socket_.get(), kTimeoutMs);
}

Result<server::Reply> Client::ReadReply() {
  for (;;) {
    const size_t nl = buf_.find('\n', pos_);
    if (nl != std::string::npos) {
      std::string line = buf_.substr(pos_, nl - pos_);
      pos_ = nl + 1;
      BV_ASSIGN_OR_RETURN(server::Reply r, server::ParseReply(line));
      if (r.kind == "ERR") return ServerError(r);
      return r;
    }
    if (buf_.size() - pos_ > kReplyLineMax) return Status::Corruption("the server sent an over-long line");
    buf_.erase(0, pos_);
    pos_ = 0;
    char tmp[16 << 10];
    BV_ASSIGN_OR_RETURN(size_t got, socket_->Read(tmp, sizeof tmp, kTimeoutMs));
    if (got == 0) return Status::IOError("the server closed the connection without a reply");
    buf_.append(tmp, got);
  }
}

Result<size_t> Client::ReadBytes(char* dst, size_t n) {
  if (pos_ < buf_.size()) {
    n = std::min(n, buf_.size() - pos_);
    std::memcpy(dst, buf_.data() + pos_, n);
    pos_ += n;
    return n;
  }
  return socket_->Read(dst, n, kTimeoutMs);
}

}  // namespace bv::tool
