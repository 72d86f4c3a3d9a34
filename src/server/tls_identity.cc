#include "server/tls_identity.h"

#include <unistd.h>

#include <climits>
#include <vector>

#include "io/env.h"
#include "io/tls_certificate.h"

namespace bv::server {

namespace {

// The names a client may reach this host by: its host name, loopback, and the address of each
// TLS listener bound to one (a wildcard names none).
std::vector<std::string> HostNames(const ServerConfig& config) {
  std::vector<std::string> names;
  char host[HOST_NAME_MAX + 1] = "";
  if (::gethostname(host, sizeof host) == 0 && host[0] != '\0') names.push_back(host);
  names.push_back("localhost");
  names.push_back("127.0.0.1");
  names.push_back("::1");
  for (const std::string& a : config.listen_tls) {
    std::string h = a.substr(0, a.rfind(':'));
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    if (h.empty() || h == "0.0.0.0" || h == "::") continue;
    bool seen = false;
    for (const std::string& n : names) seen = seen || n == h;
    if (!seen) names.push_back(h);
  }
  return names;
}

}  // namespace

Result<TlsIdentity> LoadOrCreateTlsIdentity(const ServerConfig& config) {
  TlsIdentity id;
  if (!config.tls_cert.empty()) {
    id.cert_path = config.tls_cert;
    id.key_path = config.tls_key;
  } else {
    const std::string dir = config.data_dir + "/tls";
    id.cert_path = dir + "/cert.pem";
    id.key_path = dir + "/key.pem";
    const bool have_cert = io::PathExists(id.cert_path), have_key = io::PathExists(id.key_path);
    if (have_cert != have_key) {
      return Status::InvalidArgument("TLS: " + (have_cert ? id.key_path : id.cert_path) + " is missing beside " +
                                     (have_cert ? id.cert_path : id.key_path) +
                                     "; restore it, or remove both to make a new certificate");
    }
    if (!have_cert) {
      BV_RETURN_IF_ERROR(io::MakeDirs(dir, 0700));
      BV_RETURN_IF_ERROR(io::MakeSelfSignedCertificate(id.cert_path, id.key_path, HostNames(config)));
      id.created = true;
    }
  }
  auto fp = io::FileFingerprint(id.cert_path);
  if (!fp.ok()) return Status::InvalidArgument("tls_cert: " + fp.status().message());
  id.fingerprint = *fp;
  return id;
}

}  // namespace bv::server
