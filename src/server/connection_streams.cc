#include "server/connection_streams.h"

#include <algorithm>
#include <string>

#include "server/server.h"

namespace bv::server {

Result<size_t> PushInput::Read(char* dst, size_t n) {
  if (size_ && received_ == *size_) return ReadPastDeclaredEnd();
  if (size_) n = static_cast<size_t>(std::min<uint64_t>(n, *size_ - received_));
  auto got = conn_->ReadBytes(dst, n, timeout_ms_);
  if (!got.ok()) {
    if (got.status().code() == Status::Code::kTimedOut) {
      return Status::TimedOut(got.status().message() + ", after " + std::to_string(received_) + " bytes");
    }
    return Status::IOError("the connection failed after " + std::to_string(received_) + " bytes: " +
                           got.status().message());
  }
  if (*got == 0 && size_ && received_ < *size_) {
    return Status::InvalidArgument("the connection closed after " + std::to_string(received_) + " of size=" +
                                   std::to_string(*size_) + " bytes");
  }
  received_ += *got;
  return got;
}

// The declared end: anything more is an error, and the client must half-close.
Result<size_t> PushInput::ReadPastDeclaredEnd() {
  char extra;
  BV_ASSIGN_OR_RETURN(size_t got, conn_->ReadBytes(&extra, 1, timeout_ms_));
  if (got != 0) return Status::InvalidArgument("more bytes arrived than size=" + std::to_string(*size_));
  return size_t{0};
}

Result<size_t> FrameInput::Read(char* dst, size_t n) {
  if (left_ == 0) return size_t{0};
  auto got = conn_->ReadBytes(dst, static_cast<size_t>(std::min<uint64_t>(n, left_)), timeout_ms_);
  if (got.ok() && *got == 0) got = Status::IOError("the connection closed " + std::to_string(left_) + " bytes short");
  if (!got.ok()) return failed_ = got.status();
  left_ -= *got;
  return got;
}

SocketSink::SocketSink(Connection* conn) : conn_(conn), sender_(conn->socket(), kSessionSendHeld) {}

Status SocketSink::Write(std::string_view b) {
  BV_RETURN_IF_ERROR(conn_->Write(b));
  written += b.size();
  return Status::Ok();
}

Status SocketSink::WriteHeld(std::span<const std::string_view> pieces, std::shared_ptr<const void> hold) {
  BV_RETURN_IF_ERROR(sender_.Send(pieces, std::move(hold), conn_->write_timeout_ms()));
  for (std::string_view p : pieces) written += p.size();
  return Status::Ok();
}

}  // namespace bv::server
