// bvd's TLS certificate (docs/protocol.md §12.1): the configured tls_cert and tls_key, or on first
// start a self-signed one made in DATA/tls/, named for this host and its TLS listeners.
#pragma once

#include <string>

#include "base/status.h"
#include "server/config.h"

namespace bv::server {

struct TlsIdentity {
  std::string cert_path, key_path;
  std::string fingerprint;  // SHA-256 of the certificate, "AB:CD:…"
  bool created = false;     // made at this start
};

Result<TlsIdentity> LoadOrCreateTlsIdentity(const ServerConfig& config);

}  // namespace bv::server
