// TLS certificates as bvd and bvtool handle them: the self-signed certificate bvd makes on first
// start, and SHA-256 fingerprints, written the way `openssl x509 -fingerprint -sha256` writes
// them ("AB:CD:…", 32 bytes) and read with or without the colons, in either case.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

typedef struct x509_st X509;

namespace bv::io {

inline constexpr int kSelfSignedDays = 3650;

// A P-256 key (key_path, mode 0600) and a self-signed certificate for it (cert_path) whose
// subjectAltName lists `names`: DNS names, and IPv4 or IPv6 literals as IP addresses.
Status MakeSelfSignedCertificate(const std::string& cert_path, const std::string& key_path,
                                 const std::vector<std::string>& names);

// "AB:CD:…" of a certificate's DER bytes.
std::string Fingerprint(X509* cert);
// The fingerprint of the first certificate of a PEM file.
Result<std::string> FileFingerprint(const std::string& pem_path);
// A fingerprint as given by a person: 64 hex digits, with or without colons (and an optional
// "sha256:" or "SHA256 Fingerprint=" prefix); returned as "AB:CD:…".
Result<std::string> ParseFingerprint(std::string_view text);

}  // namespace bv::io
