#include "server/connection.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "server/protocol_text.h"
#include "server/request.h"
#include "server/server.h"

namespace bv::server {

namespace {

constexpr size_t kReadBufferSize = 64 << 10;
constexpr int kPollSliceMs = 250;          // how often a waiting session looks at `stopping`

}  // namespace

Connection::Connection(Server* server, io::Socket* socket)
    : server_(server), socket_(socket), buf_(kReadBufferSize, '\0') {}

Result<std::optional<std::string>> Connection::ReadLine(int timeout_ms, bool interruptible) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const size_t nl = std::string_view(buf_.data() + begin_, end_ - begin_).find('\n');
    if (nl != std::string_view::npos) {
      std::string line(buf_.data() + begin_, nl);
      begin_ += nl + 1;
      return std::optional<std::string>(std::move(line));
    }
    if (end_ - begin_ >= kLineMax) {
      return Status::InvalidArgument("request line is longer than " + std::to_string(kLineMax) + " bytes");
    }
    Compact();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return LineTimedOut(timeout_ms);
    auto got = Fill(static_cast<int>(left.count()), interruptible);
    if (!got.ok() && got.status().code() == Status::Code::kTimedOut) return LineTimedOut(timeout_ms);
    if (!got.ok()) return got.status();
    BV_RETURN_IF_ERROR(rate_.Add(*got));
    if (*got == 0) {
      if (end_ == begin_) return std::optional<std::string>();
      return Status::InvalidArgument("connection closed in the middle of a request line");
    }
  }
}

Status Connection::LineTimedOut(int timeout_ms) const {
  const std::string what = end_ == begin_ ? "no request" : "no whole request line";
  return Status::TimedOut(what + " within " + std::to_string(timeout_ms / 1000) + " s");
}

Result<size_t> Connection::ReadBytes(char* dst, size_t n, int timeout_ms) {
  if (begin_ < end_) {
    n = std::min(n, end_ - begin_);
    std::memcpy(dst, buf_.data() + begin_, n);
    begin_ += n;
    return n;
  }
  auto got = socket_->Read(dst, n, timeout_ms);
  if (!got.ok() && got.status().code() == Status::Code::kTimedOut) {
    return Status::TimedOut("the client sent nothing for " + std::to_string(timeout_ms / 1000) + " s");
  }
  if (got.ok()) BV_RETURN_IF_ERROR(rate_.Add(*got));
  return got;
}

Status Connection::ReplyError(const Status& s) {
  return Reply(std::string("ERR ") + ErrorCodeName(s) + " " + OneLine(s.message()));
}

bool Connection::LastReply(const std::string& line) {
  (void)Reply(line);
  return false;
}

bool Connection::LastError(const Status& s) {
  (void)ReplyError(s);
  return false;
}

void Connection::DrainInput(int ms) {
  EndOutput();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < deadline) {
    begin_ = end_ = 0;
    auto got = socket_->Read(buf_.data(), buf_.size(), kPollSliceMs);
    if (got.ok() && *got == 0) return;
    if (!got.ok() && got.status().code() != Status::Code::kTimedOut) return;
  }
}

void Connection::Compact() {
  if (begin_ == 0) return;
  std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
  end_ -= begin_;
  begin_ = 0;
}

Result<size_t> Connection::Fill(int timeout_ms, bool interruptible) {
  int waited = 0;
  for (;;) {
    const int slice = interruptible ? std::min(kPollSliceMs, timeout_ms - waited) : timeout_ms;
    auto got = socket_->Read(buf_.data() + end_, buf_.size() - end_, slice);
    if (got.ok()) {
      end_ += *got;
      return *got;
    }
    if (got.status().code() != Status::Code::kTimedOut || !interruptible) return got.status();
    waited += slice;
    if (server_->stopping()) return Status::Busy("the server is shutting down");
    if (waited >= timeout_ms) return Status::TimedOut("nothing read for " + std::to_string(timeout_ms) + " ms");
  }
}

}  // namespace bv::server
