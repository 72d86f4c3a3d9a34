#include "io/tls_session.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <cerrno>
#include <cstring>
#include <chrono>

#include "io/tls_certificate.h"
#include "io/wait.h"

namespace bv::io {

namespace {

// OpenSSL copies a record's bytes into its write buffer at an address ≡ 8 (mod 16): the 5-byte
// header, padded to 8, after a 16-aligned buffer. glibc's memcpy (rep movsb) runs at a twentieth
// of its speed on AMD Zen when the destination lies 1 to 15 bytes past the source modulo 4096
// (a page; keeping 1 to 15 modulo 64 clear, as Stage does, keeps that clear too), so
// WriteAll hands OpenSSL sources ≡ 8 (mod 16), staging the others (docs/performance.md, TLS).
constexpr uintptr_t kRecordPayloadAlign = 8;
constexpr size_t kStageMinBytes = 4096;  // shorter copies do not use rep movsb
constexpr size_t kStageBytes = 64 << 10;

bool IsIpLiteral(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

int RemainingMs(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

// The client side's checks, set before the handshake: the server's name for SNI, and for a CA
// the name or address its certificate must carry.
Status PrepareClient(SSL* ssl, const TlsClientOptions& o, const std::string& host) {
  const bool ip = IsIpLiteral(host);
  if (!ip && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) return TlsError("TLS server name " + host);
  if (o.ca_file.empty()) return Status::Ok();
  if (ip) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) != 1) return TlsError("TLS address " + host);
  } else if (SSL_set1_host(ssl, host.c_str()) != 1) {
    return TlsError("TLS host name " + host);
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<TlsSession>> TlsSession::Handshake(std::shared_ptr<TlsContext> ctx, int fd,
                                                          const std::string& host, const std::string& peer,
                                                          const std::atomic<bool>* interrupted, int timeout_ms) {
  SSL* ssl = SSL_new(ctx->get());
  if (ssl == nullptr) return TlsError("TLS with " + peer);
  const bool server = ctx->server();
  std::unique_ptr<TlsSession> s(new TlsSession(std::move(ctx), ssl, fd, peer, interrupted));
  if (SSL_set_fd(ssl, fd) != 1) return TlsError("TLS with " + peer);
  if (server) {
    SSL_set_accept_state(ssl);
  } else {
    SSL_set_connect_state(ssl);
    BV_RETURN_IF_ERROR(PrepareClient(ssl, s->ctx_->client_options(), host));
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const int r = SSL_do_handshake(ssl);
    if (r == 1) break;
    Status st = s->Retry(r, "TLS handshake with " + peer, RemainingMs(deadline));
    if (st.code() == Status::Code::kTimedOut) {
      return Status::TimedOut("TLS handshake with " + peer + ": not done within " + std::to_string(timeout_ms) +
                              " ms");
    }
    if (!st.ok()) {
      if (!server && !s->ctx_->client_options().ca_file.empty() && SSL_get_verify_result(ssl) != X509_V_OK) {
        return Status::InvalidArgument("TLS: the certificate of " + peer + " is not trusted by --ca " +
                                       s->ctx_->client_options().ca_file + ": " +
                                       X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
      }
      return st;
    }
  }
  if (!server) BV_RETURN_IF_ERROR(s->CheckServer(host));
  s->kernel_send_ = BIO_get_ktls_send(SSL_get_wbio(ssl)) != 0;
  return s;
}

Status TlsSession::CheckServer(const std::string& host) const {
  const TlsClientOptions& o = ctx_->client_options();
  if (o.fingerprint.empty()) return Status::Ok();
  X509* cert = SSL_get0_peer_certificate(ssl_);
  if (cert == nullptr) return Status::InvalidArgument("TLS: " + host + " sent no certificate");
  const std::string got = Fingerprint(cert);
  if (got != o.fingerprint) {
    return Status::InvalidArgument("TLS: the certificate of " + peer_ + " has SHA-256 fingerprint " + got +
                                   ", not the pinned " + o.fingerprint + "; nothing was sent to it");
  }
  return Status::Ok();
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

Status TlsSession::Retry(int r, const std::string& what, int timeout_ms, bool* eof) {
  const int err = SSL_get_error(ssl_, r);
  const int saved_errno = errno;
  if (interrupted_->load()) {
    ERR_clear_error();
    return Status::IOError(what + ": interrupted by the server stopping");
  }
  switch (err) {
    case SSL_ERROR_WANT_READ:
      return WaitFor(fd_, POLLIN, timeout_ms, what);
    case SSL_ERROR_WANT_WRITE:
      return WaitFor(fd_, POLLOUT, timeout_ms, what);
    case SSL_ERROR_ZERO_RETURN:
      if (eof != nullptr) {
        *eof = true;
        return Status::Ok();
      }
      return Status::IOError(what + ": the peer ended the TLS session");
    case SSL_ERROR_SYSCALL:
      ERR_clear_error();
      if (saved_errno == 0) return Status::IOError(what + ": the connection closed");
      return Status::FromErrno(what, saved_errno);
    default:
      return TlsError(what);
  }
}

Result<size_t> TlsSession::Read(char* dst, size_t n, int timeout_ms) {
  const std::string what = "read from " + peer_;
  for (;;) {
    size_t got = 0;
    errno = 0;
    const int r = SSL_read_ex(ssl_, dst, n, &got);
    if (interrupted_->load()) return Status::IOError(what + ": interrupted by the server stopping");
    if (r == 1) return got + ReadBuffered(dst + got, n - got);
    bool eof = false;
    BV_RETURN_IF_ERROR(Retry(r, what, timeout_ms, &eof));
    if (eof) return size_t{0};
  }
}

// A read returns one record (16 KiB at most); records already read ahead are taken too, so that
// a caller gets what it asked for in one call.
size_t TlsSession::ReadBuffered(char* dst, size_t n) {
  size_t total = 0;
  while (total < n && SSL_has_pending(ssl_) == 1) {
    size_t got = 0;
    if (SSL_read_ex(ssl_, dst + total, n - total, &got) != 1) {
      ERR_clear_error();  // nothing more without waiting, or an error the next Read reports
      break;
    }
    total += got;
  }
  return total;
}

Status TlsSession::WriteAll(std::string_view bytes, int timeout_ms) {
  while (!bytes.empty()) {
    std::string_view piece = bytes;
    if (bytes.size() >= kStageMinBytes && reinterpret_cast<uintptr_t>(bytes.data()) % 16 != kRecordPayloadAlign) {
      piece = Stage(bytes.substr(0, kStageBytes));
    }
    BV_RETURN_IF_ERROR(WriteRecords(piece, timeout_ms));
    bytes.remove_prefix(piece.size());
  }
  return Status::Ok();
}

// A copy of `bytes` (at most kStageBytes) at an address ≡ 8 (mod 16) and 16 to 63 bytes past
// `bytes` modulo 64: this copy and OpenSSL's own are both fast ones.
std::string_view TlsSession::Stage(std::string_view bytes) {
  if (!stage_) stage_.reset(new char[kStageBytes + 128]);
  const uintptr_t base = (reinterpret_cast<uintptr_t>(stage_.get()) + 63) & ~uintptr_t{63};
  const uintptr_t src = reinterpret_cast<uintptr_t>(bytes.data()) % 64;
  uintptr_t off = kRecordPayloadAlign;
  while (((off - src) & 63) < 16) off += 16;
  char* dst = reinterpret_cast<char*>(base + off);
  std::memcpy(dst, bytes.data(), bytes.size());
  return std::string_view(dst, bytes.size());
}

Status TlsSession::WriteRecords(std::string_view bytes, int timeout_ms) {
  const std::string what = "write to " + peer_;
  while (!bytes.empty()) {
    size_t put = 0;
    errno = 0;
    const int r = SSL_write_ex(ssl_, bytes.data(), bytes.size(), &put);
    if (r == 1) {
      bytes.remove_prefix(put);
      continue;
    }
    BV_RETURN_IF_ERROR(Retry(r, what, timeout_ms));
  }
  return Status::Ok();
}

Status TlsSession::Shutdown(int timeout_ms) {
  if (shut_) return Status::Ok();
  shut_ = true;
  for (;;) {
    errno = 0;
    const int r = SSL_shutdown(ssl_);
    if (r >= 0) return Status::Ok();  // 0: ours is sent; the peer's may follow or not
    BV_RETURN_IF_ERROR(Retry(r, "TLS close to " + peer_, timeout_ms));
  }
}

const char* TlsSession::version() const { return SSL_get_version(ssl_); }

std::string TlsSession::PeerFingerprint() const {
  X509* cert = SSL_get0_peer_certificate(ssl_);
  return cert != nullptr ? Fingerprint(cert) : std::string();
}

Status TlsSession::VerifyPeer(const std::string& ca_file) const {
  X509* leaf = SSL_get0_peer_certificate(ssl_);
  if (leaf == nullptr) return Status::InvalidArgument("no client certificate was presented");
  X509_STORE* store = X509_STORE_new();
  X509_STORE_CTX* vc = X509_STORE_CTX_new();
  Status result;
  if (store == nullptr || vc == nullptr || X509_STORE_load_file(store, ca_file.c_str()) != 1 ||
      X509_STORE_CTX_init(vc, store, leaf, SSL_get_peer_cert_chain(ssl_)) != 1) {
    result = TlsError("client_ca " + ca_file);
  } else {
    X509_STORE_CTX_set_purpose(vc, X509_PURPOSE_SSL_CLIENT);
    if (X509_verify_cert(vc) != 1) {
      result = Status::InvalidArgument(std::string("the client certificate is not trusted: ") +
                                       X509_verify_cert_error_string(X509_STORE_CTX_get_error(vc)));
    }
    ERR_clear_error();
  }
  X509_STORE_CTX_free(vc);
  X509_STORE_free(store);
  return result;
}

}  // namespace bv::io
