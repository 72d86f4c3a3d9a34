// The TLS settings of one side (docs/protocol.md §12): bvd's certificate and key, or what bvtool
// trusts (a CA file with hostname checks, a pinned certificate fingerprint, or nothing when told
// so) and its own certificate when it has one. OpenSSL 3; kTLS is asked for where it exists.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace bv::io {

struct TlsClientOptions {
  std::string ca_file;      // verify the chain to these and the server's name or address
  std::string fingerprint;  // "AB:CD:…": the server's certificate must be this one
  bool insecure = false;    // neither: accept any server (refused unless set)
  std::string cert_file, key_file;  // a client certificate, for tenants that ask for one
};

class TlsContext {
 public:
  // bvd: serves cert_file (a PEM chain, leaf first) with key_file. Asks every client for a
  // certificate and takes any (or none): a tenant decides at AUTH (server/tenant.h).
  static Result<std::shared_ptr<TlsContext>> ForServer(const std::string& cert_file, const std::string& key_file);
  static Result<std::shared_ptr<TlsContext>> ForClient(const TlsClientOptions& options);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* get() const { return ctx_; }
  bool server() const { return server_; }
  const TlsClientOptions& client_options() const { return client_; }

 private:
  TlsContext(SSL_CTX* ctx, bool server) : ctx_(ctx), server_(server) {}
  SSL_CTX* ctx_;
  bool server_;
  TlsClientOptions client_;
};

// The newest OpenSSL error as "what: reason", and the error queue cleared.
Status TlsError(const std::string& what);

}  // namespace bv::io
