// A connection as the engine's input and output: a raw push's bytes (PUT), one DATA frame's bytes
// (framed push), and a raw restore's bytes (GET), each read or written in place.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "engine/stream_io.h"
#include "io/zero_copy_sender.h"
#include "server/connection.h"

namespace bv::server {

// A raw push's bytes: everything up to the client's half-close, or exactly size= bytes.
class PushInput final : public engine::InputStream {
 public:
  PushInput(Connection* conn, int timeout_ms, std::optional<uint64_t> size)
      : conn_(conn), timeout_ms_(timeout_ms), size_(size) {}
  Result<size_t> Read(char* dst, size_t n) override;
  uint64_t received() const { return received_; }

 private:
  Result<size_t> ReadPastDeclaredEnd();

  Connection* conn_;
  int timeout_ms_;
  std::optional<uint64_t> size_;
  uint64_t received_ = 0;
};

// The bytes of one DATA frame, read from the connection straight into the session's pipeline.
class FrameInput final : public engine::InputStream {
 public:
  FrameInput(Connection* conn, int timeout_ms, uint64_t size) : conn_(conn), timeout_ms_(timeout_ms), left_(size) {}
  Result<size_t> Read(char* dst, size_t n) override;
  uint64_t left() const { return left_; }
  const Status& failed() const { return failed_; }  // the connection's failure, not the session's

 private:
  Connection* conn_;
  int timeout_ms_;
  uint64_t left_;
  Status failed_;
};

// A raw restore's bytes go straight to the socket, sent from the restore's own buffers with
// zero-copy send where the kernel does it.
class SocketSink final : public engine::OutputSink {
 public:
  explicit SocketSink(Connection* conn);
  Status Write(std::string_view b) override;
  Status WriteHeld(std::span<const std::string_view> pieces, std::shared_ptr<const void> hold) override;
  // Waits until the kernel is done with every batch: a restore is reported whole only then.
  Status Finish() { return sender_.Flush(conn_->write_timeout_ms()); }
  const io::ZeroCopySender::Stats& stats() const { return sender_.stats(); }
  uint64_t written = 0;

 private:
  Connection* conn_;
  io::ZeroCopySender sender_;
};

}  // namespace bv::server
