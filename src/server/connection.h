// One client connection as a session sees it (docs/protocol.md §2–§3): request lines, the raw
// bytes after a line (a push's), reply lines and the raw bytes of a restore.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "io/socket.h"
#include "server/input_rate.h"

namespace bv::server {

class Server;

class Connection {
 public:
  Connection(Server* server, io::Socket* socket);

  // The next line without its newline; nullopt at a clean end between requests. The whole line
  // must arrive within timeout_ms (a line dripped a byte at a time gets no more time than one
  // sent at once); gives up early when the server is stopping and `interruptible`.
  Result<std::optional<std::string>> ReadLine(int timeout_ms, bool interruptible);
  // Bytes after the last line: buffered ones first, then the socket's. timeout_ms bounds each
  // read's silence; the input rate floor, once started, bounds the rate.
  Result<size_t> ReadBytes(char* dst, size_t n, int timeout_ms);
  // Holds the bytes read from here on (lines and raw bytes) to a floor rate, until StopRateFloor.
  void StartRateFloor(uint32_t min_bytes_per_second, uint32_t window_s) {
    rate_.Start(min_bytes_per_second, window_s);
  }
  void StopRateFloor() { rate_.Stop(); }

  Status Reply(const std::string& line) { return socket_->WriteAll(line + "\n", write_timeout_ms_); }
  Status ReplyError(const Status& s);
  // The last reply before the connection closes: a send that fails means the peer has gone, and
  // there is no one left to tell. Both return false, the caller's "close the connection".
  bool LastReply(const std::string& line);
  bool LastError(const Status& s);
  // No more bytes go out (the peer reads to the end); a failure means it has gone already.
  void EndOutput() { (void)socket_->ShutdownWrite(); }
  // The connection ends in a reset rather than an orderly end (Socket::AbortOnClose); the session
  // must end without EndOutput.
  void AbortOutput() { socket_->AbortOnClose(); }
  Status Write(std::string_view bytes) { return socket_->WriteAll(bytes, write_timeout_ms_); }
  // After refusing a push or a request, read and drop what the client is still sending (for up
  // to `ms`), so its side sees our error line rather than a reset that may destroy it.
  void DrainInput(int ms = kDrainAfterErrorMs);
  static constexpr int kDrainAfterErrorMs = 10000;  // input read and dropped after a failed PUT, at most

  void set_write_timeout_ms(int ms) { write_timeout_ms_ = ms; }
  int write_timeout_ms() const { return write_timeout_ms_; }
  io::Socket* socket() { return socket_; }
  const std::string& peer() const { return socket_->peer(); }

 private:
  void Compact();
  Status LineTimedOut(int timeout_ms) const;
  Result<size_t> Fill(int timeout_ms, bool interruptible);

  Server* server_;
  io::Socket* socket_;
  std::string buf_;
  size_t begin_ = 0, end_ = 0;
  int write_timeout_ms_ = 10000;
  InputRate rate_;
};

}  // namespace bv::server
