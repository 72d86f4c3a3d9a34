// Stream sockets: TCP and Unix listeners for bvd, connections for bvtool. Addresses are
// "HOST:PORT" (an IPv4 or IPv6 literal, "[::1]:7780", or a name; port 0 picks a free one) or
// "unix:/path". Reads and writes take a timeout; nothing here raises SIGPIPE on a plain socket
// (OpenSSL writes with write(2): a process using TLS ignores SIGPIPE).
//
// A Socket is a byte stream, plain or TLS (StartTls). Code that moves bytes past it through the
// descriptor (splice, zero-copy send) asks first: raw_writes() / raw_reads() say whether bytes
// written to or read from fd() are the stream's bytes.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "io/tls_session.h"

namespace bv::io {

class Socket {
 public:
  explicit Socket(int fd, std::string peer) : fd_(fd), peer_(std::move(peer)) {}
  ~Socket();
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // Up to n bytes, 0 at the peer's end of stream. TimedOut after timeout_ms of silence
  // (negative: wait for ever).
  Result<size_t> Read(char* dst, size_t n, int timeout_ms);
  // All of `bytes`; TimedOut if the peer takes nothing for timeout_ms. `more`: more follows at
  // once, so the kernel may hold these bytes back to fill a packet (MSG_MORE).
  Status WriteAll(std::string_view bytes, int timeout_ms, bool more = false);
  // Says end of stream to the peer and goes on reading (a half-close).
  Status ShutdownWrite();
  // Ends the connection with a reset when the socket is closed, instead of an orderly end: the
  // peer's reads fail (ECONNRESET) rather than seeing end of stream, and bytes not yet sent are
  // dropped. For a stream that fails part way, whose prefix must not pass for the whole.
  void AbortOnClose();
  bool aborted() const { return aborted_; }
  // From another thread: makes every blocked and later Read and Write fail at once (a Read
  // fails rather than seeing a clean end, so an interrupted push is never taken as whole).
  void Interrupt();

  // Turns the connection into TLS: the handshake, taking at most timeout_ms. `host` is the name
  // or address a client connected to (what it verifies); a server passes "".
  Status StartTls(std::shared_ptr<TlsContext> ctx, const std::string& host, int timeout_ms);
  const TlsSession* tls() const { return tls_.get(); }
  // Bytes written to fd() reach the peer as the stream's: plain, or TLS that the kernel encrypts.
  bool raw_writes() const { return !tls_ || tls_->kernel_send(); }
  // Bytes read from fd() are the stream's: plain only.
  bool raw_reads() const { return !tls_; }
  // On a loopback address or a Unix socket (the peer's, for an accepted connection; the one
  // connected to, for Connect's).
  bool local() const { return local_; }

  int fd() const { return fd_; }
  const std::string& peer() const { return peer_; }

 private:
  friend class Listener;
  friend Result<std::unique_ptr<Socket>> Connect(const std::string& address, int timeout_ms);
  Status Wait(short events, int timeout_ms, const char* what);
  int fd_;
  std::string peer_;
  std::atomic<bool> interrupted_{false};
  bool aborted_ = false;
  std::unique_ptr<TlsSession> tls_;
  bool local_ = false;
};

class Listener {
 public:
  static Result<std::unique_ptr<Listener>> Open(const std::string& address);
  ~Listener();

  // The next connection; NotFound when the listener was closed.
  Result<std::unique_ptr<Socket>> Accept();
  // The address actually bound ("127.0.0.1:41234" for a request of port 0).
  const std::string& address() const { return address_; }
  int fd() const { return fd_; }
  // Bound to a loopback address or a Unix socket path: only this host can connect.
  bool local() const { return local_; }

 private:
  Listener(int fd, std::string address, std::string unix_path, bool local)
      : fd_(fd), address_(std::move(address)), unix_path_(std::move(unix_path)), local_(local) {}
  int fd_;
  std::string address_;
  std::string unix_path_;  // removed on close
  bool local_;
};

Result<std::unique_ptr<Socket>> Connect(const std::string& address, int timeout_ms);

}  // namespace bv::io
