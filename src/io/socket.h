// Stream sockets: TCP and Unix listeners for bvd, connections for bvtool. Addresses are
// "HOST:PORT" (an IPv4 or IPv6 literal, "[::1]:7780", or a name; port 0 picks a free one) or
// "unix:/path". Reads and writes take a timeout; nothing here raises SIGPIPE.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

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
  // From another thread: makes every blocked and later Read and Write fail at once (a Read
  // fails rather than seeing a clean end, so an interrupted push is never taken as whole).
  void Interrupt();

  int fd() const { return fd_; }
  const std::string& peer() const { return peer_; }

 private:
  Status Wait(short events, int timeout_ms, const char* what);
  int fd_;
  std::string peer_;
  std::atomic<bool> interrupted_{false};
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

 private:
  Listener(int fd, std::string address, std::string unix_path)
      : fd_(fd), address_(std::move(address)), unix_path_(std::move(unix_path)) {}
  int fd_;
  std::string address_;
  std::string unix_path_;  // removed on close
};

Result<std::unique_ptr<Socket>> Connect(const std::string& address, int timeout_ms);

}  // namespace bv::io
