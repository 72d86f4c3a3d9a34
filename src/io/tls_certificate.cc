#include "io/tls_certificate.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <memory>

#include "io/env.h"

namespace bv::io {

namespace {

template <auto F>
struct Freer {
  template <typename T>
  void operator()(T* p) const { F(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Freer<EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Freer<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Freer<BIO_free>>;

Status OpenSslError(const std::string& what) {
  char buf[256] = "unknown error";
  if (unsigned long e = ERR_get_error(); e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return Status::IOError(what + ": " + buf);
}

bool IsIpLiteral(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// "DNS:host,IP:127.0.0.1,…" for X509V3_EXT_conf_nid.
std::string AltNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    if (n.empty() || (n.find_first_of(",:") != std::string::npos && !IsIpLiteral(n))) continue;
    if (!out.empty()) out += ",";
    out += (IsIpLiteral(n) ? "IP:" : "DNS:") + n;
  }
  return out;
}

Status AddExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return OpenSslError("certificate extension " + value);
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1 ? Status::Ok() : OpenSslError("certificate extension " + value);
}

Result<CertPtr> SignedCertificate(EVP_PKEY* key, const std::vector<std::string>& names) {
  CertPtr cert(X509_new());
  if (!cert) return OpenSslError("X509_new");
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return OpenSslError("random serial");
  serial[0] &= 0x7f;  // a positive number
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_set_version(cert.get(), 2);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), kSelfSignedDays, 0, nullptr);
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string cn = names.empty() ? "bvd" : "bvd " + names.front();
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key);
  BV_RETURN_IF_ERROR(AddExtension(cert.get(), NID_basic_constraints, "critical,CA:TRUE"));
  BV_RETURN_IF_ERROR(AddExtension(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign"));
  BV_RETURN_IF_ERROR(AddExtension(cert.get(), NID_ext_key_usage, "serverAuth"));
  BV_RETURN_IF_ERROR(AddExtension(cert.get(), NID_subject_key_identifier, "hash"));
  if (const std::string alt = AltNames(names); !alt.empty()) {
    BV_RETURN_IF_ERROR(AddExtension(cert.get(), NID_subject_alt_name, alt));
  }
  if (X509_sign(cert.get(), key, EVP_sha256()) == 0) return OpenSslError("signing the certificate");
  return cert;
}

template <typename WriteFn>
Result<std::string> Pem(WriteFn write) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return OpenSslError("PEM encoding");
  char* p = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &p);
  return std::string(p, static_cast<size_t>(n));
}

}  // namespace

Status MakeSelfSignedCertificate(const std::string& cert_path, const std::string& key_path,
                                 const std::vector<std::string>& names) {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("making a P-256 key");
  BV_ASSIGN_OR_RETURN(CertPtr cert, SignedCertificate(key.get(), names));
  BV_ASSIGN_OR_RETURN(std::string key_pem, Pem([&](BIO* b) {
                        return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
                      }));
  BV_ASSIGN_OR_RETURN(std::string cert_pem, Pem([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); }));
  BV_RETURN_IF_ERROR(WriteFileAtomic(key_path, key_pem, 0600));
  return WriteFileAtomic(cert_path, cert_pem, 0644);
}

std::string Fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(cert, EVP_sha256(), md, &n);
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < n; i++) {
    if (i > 0) out += ':';
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

Result<std::string> FileFingerprint(const std::string& pem_path) {
  BV_ASSIGN_OR_RETURN(std::string pem, ReadSmallFile(pem_path, 1 << 20));
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  CertPtr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return OpenSslError(pem_path + ": not a PEM certificate");
  return Fingerprint(cert.get());
}

Result<std::string> ParseFingerprint(std::string_view text) {
  const std::string given(text);
  for (std::string_view prefix : {"sha256:", "SHA256:", "sha256 Fingerprint=", "SHA256 Fingerprint="}) {
    if (text.substr(0, prefix.size()) == prefix) text.remove_prefix(prefix.size());
  }
  std::string hex;
  for (size_t i = 0; i < text.size(); i++) {
    const char c = text[i];
    if (c == ':' && i % 3 == 2) continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return Status::InvalidArgument("fingerprint " + given + ": expected 64 hex digits, with or without colons");
    }
    hex += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (hex.size() != 64) {
    return Status::InvalidArgument("fingerprint " + given + ": a SHA-256 fingerprint has 64 hex digits, not " +
                                   std::to_string(hex.size()));
  }
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    if (i > 0) out += ':';
    out += hex.substr(i, 2);
  }
  return out;
}

}  // namespace bv::io
