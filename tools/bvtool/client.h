// bvtool as a client of bvd: one connection, authenticated, speaking the line protocol
// (docs/protocol.md). --server HOST:PORT, tls://HOST:PORT or unix:/PATH, --tenant, --token-file;
// over TLS the server is verified by --fingerprint or --ca before the token is sent (§12).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/file_splicer.h"
#include "io/socket.h"
#include "server/request.h"

namespace bv::tool {

struct Remote {
  std::string server;      // empty: $BV_SERVER
  std::string tenant;      // empty: $BV_TENANT, else "default"
  std::string token_file;  // empty: $BV_TOKEN_FILE
  // TLS (a tls:// server): how the server is verified, and this client's certificate.
  std::string ca_file;      // empty: $BV_CA
  std::string fingerprint;  // empty: $BV_FINGERPRINT
  bool insecure = false;
  std::string cert_file, key_file;
  // Plain TCP to a host other than this one: the token and the data cross the network in clear.
  bool plain = false;
  bool given() const;
  // --tenant, else $BV_TENANT, else "default".
  std::string TenantName() const;
};

class Client {
 public:
  // Connects and sends AUTH (which is silent when it succeeds).
  static Result<std::unique_ptr<Client>> Connect(const Remote& r);

  // `more`: more bytes follow at once (the kernel may hold these back to fill a packet).
  Status Send(std::string_view bytes, bool more = false);
  Status SendLine(const std::string& line, bool more = false) { return Send(line + "\n", more); }
  // Bytes [off, off + n) of the open file fd (`name` for errors), from the page cache to the
  // socket by splice; the process must ignore SIGPIPE.
  Status SendFile(int fd, const std::string& name, uint64_t off, size_t n);
  Status HalfClose() { return socket_->ShutdownWrite(); }
  // The next reply line; an ERR line becomes a Status carrying the server's code and message.
  Result<server::Reply> ReadReply();
  // Raw bytes after a GET line: up to n, 0 at the server's end.
  Result<size_t> ReadBytes(char* dst, size_t n);
  // The socket itself, for moving raw bytes without reading them here (splice); none while this
  // client holds bytes it has read ahead.
  std::optional<int> UnbufferedFd() const {
    if (pos_ < buf_.size() || !socket_->raw_reads()) return std::nullopt;  // TLS: only decrypted bytes count
    return socket_->fd();
  }
  static constexpr int kTimeoutMs = 300000;  // the server answers a push only once it is durable

 private:
  explicit Client(std::unique_ptr<io::Socket> s) : socket_(std::move(s)) {}
  std::unique_ptr<io::Socket> socket_;
  std::unique_ptr<io::FileSplicer> splicer_;  // made on first use
  std::string buf_;
  size_t pos_ = 0;
};

// The Status for a server's ERR reply.
Status ServerError(const server::Reply& r);
// The decimal field `key` of a reply: present, digits only, at most 19 of them.
Result<uint64_t> ReplyNumber(const server::Reply& r, const char* key);

}  // namespace bv::tool
