// One TLS connection over a non-blocking socket descriptor: the handshake within a deadline, then
// reads and writes that wait with poll(2) whenever OpenSSL wants the socket readable or writable,
// so timeouts and Socket::Interrupt work as they do on a plain socket. Used by io::Socket only.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "io/tls_context.h"

typedef struct ssl_st SSL;

namespace bv::io {

class TlsSession {
 public:
  // The handshake on fd, taking at most timeout_ms in all. A client verifies the server as its
  // context says (host: the name or address it connected to) before anything else is sent.
  static Result<std::unique_ptr<TlsSession>> Handshake(std::shared_ptr<TlsContext> ctx, int fd,
                                                       const std::string& host, const std::string& peer,
                                                       const std::atomic<bool>* interrupted, int timeout_ms);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  Result<size_t> Read(char* dst, size_t n, int timeout_ms);
  Status WriteAll(std::string_view bytes, int timeout_ms);
  // Sends close_notify (once): the peer sees a clean end of stream.
  Status Shutdown(int timeout_ms);

  // The kernel encrypts what is written to the descriptor (kTLS): raw writes are safe.
  bool kernel_send() const { return kernel_send_; }
  const char* version() const;
  // The peer's certificate's fingerprint ("AB:CD:…"); empty when it sent none.
  std::string PeerFingerprint() const;
  // The peer's certificate chains to a certificate in ca_file and may serve as a client's.
  Status VerifyPeer(const std::string& ca_file) const;

 private:
  TlsSession(std::shared_ptr<TlsContext> ctx, SSL* ssl, int fd, std::string peer, const std::atomic<bool>* interrupted)
      : ctx_(std::move(ctx)), ssl_(ssl), fd_(fd), peer_(std::move(peer)), interrupted_(interrupted) {}
  // After an SSL call returned r <= 0: Ok when waiting for the socket (up to timeout_ms) lets it
  // go on, the error otherwise. *eof: the peer's close_notify.
  Status Retry(int r, const std::string& what, int timeout_ms, bool* eof = nullptr);
  Status CheckServer(const std::string& host) const;
  size_t ReadBuffered(char* dst, size_t n);
  std::string_view Stage(std::string_view bytes);
  Status WriteRecords(std::string_view bytes, int timeout_ms);

  std::shared_ptr<TlsContext> ctx_;
  SSL* ssl_;
  int fd_;
  std::string peer_;
  const std::atomic<bool>* interrupted_;
  bool kernel_send_ = false;
  bool shut_ = false;
  std::unique_ptr<char[]> stage_;  // WriteAll's copies of misaligned sources (kStageBytes)
};

}  // namespace bv::io
