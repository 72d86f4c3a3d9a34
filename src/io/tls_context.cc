#include "io/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace bv::io {

namespace {

constexpr char kCipherSuites[] = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr size_t kReadAheadBytes = 64 << 10;

// Any client certificate, or none, gets through the handshake; tenants check it at AUTH.
int AcceptAnyClient(int, X509_STORE_CTX*) { return 1; }

SSL_CTX* NewContext(const SSL_METHOD* method) {
  SSL_CTX* ctx = SSL_CTX_new(method);
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // The kernel encrypts where it can (kTLS), so restores may still splice (socket.h).
  SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // AES-128-GCM first: a third less work than AES-256 per byte on AES-NI, and what bulk
  // transfers are bounded by here (docs/performance.md).
  SSL_CTX_set_ciphersuites(ctx, kCipherSuites);
  // Several records per read(2) rather than two calls per 16 KiB record. Not more: before each
  // record OpenSSL moves the unread rest of its read buffer to the front (to align the payload),
  // so a 256 KiB buffer moved eight times the stream (docs/performance.md, TLS).
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_default_read_buffer_len(ctx, kReadAheadBytes);
  return ctx;
}

}  // namespace

Status TlsError(const std::string& what) {
  char buf[256] = "";
  unsigned long e = ERR_get_error();
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return Status::IOError(what + (e != 0 ? std::string(": ") + buf : std::string()));
}

Result<std::shared_ptr<TlsContext>> TlsContext::ForServer(const std::string& cert_file, const std::string& key_file) {
  SSL_CTX* raw = NewContext(TLS_server_method());
  if (raw == nullptr) return TlsError("TLS context");
  std::shared_ptr<TlsContext> ctx(new TlsContext(raw, /*server=*/true));
  if (SSL_CTX_use_certificate_chain_file(raw, cert_file.c_str()) != 1) return TlsError("tls_cert " + cert_file);
  if (SSL_CTX_use_PrivateKey_file(raw, key_file.c_str(), SSL_FILETYPE_PEM) != 1) return TlsError("tls_key " + key_file);
  if (SSL_CTX_check_private_key(raw) != 1) return TlsError("tls_key " + key_file + " does not match " + cert_file);
  SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, AcceptAnyClient);
  SSL_CTX_set_options(raw, SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(raw, 0);
  return ctx;
}

Result<std::shared_ptr<TlsContext>> TlsContext::ForClient(const TlsClientOptions& o) {
  if (o.ca_file.empty() && o.fingerprint.empty() && !o.insecure) {
    return Status::InvalidArgument(
        "TLS: nothing to verify the server with: give --fingerprint SHA256 (bvd prints it when it starts; or "
        "$BV_FINGERPRINT), --ca FILE, or --insecure to accept any server");
  }
  if (o.cert_file.empty() != o.key_file.empty()) return Status::InvalidArgument("TLS: give --cert and --key together");
  SSL_CTX* raw = NewContext(TLS_client_method());
  if (raw == nullptr) return TlsError("TLS context");
  std::shared_ptr<TlsContext> ctx(new TlsContext(raw, /*server=*/false));
  ctx->client_ = o;
  if (!o.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(raw, o.ca_file.c_str(), nullptr) != 1) return TlsError("--ca " + o.ca_file);
    SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(raw, SSL_VERIFY_NONE, nullptr);  // the pin is checked after the handshake
  }
  if (!o.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(raw, o.cert_file.c_str()) != 1) return TlsError("--cert " + o.cert_file);
    if (SSL_CTX_use_PrivateKey_file(raw, o.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      return TlsError("--key " + o.key_file);
    }
    if (SSL_CTX_check_private_key(raw) != 1) return TlsError("--key " + o.key_file + " does not match --cert");
  }
  return ctx;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

}  // namespace bv::io
