#include "io/zero_copy_sender.h"

#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <vector>

namespace bv::io {

namespace {

constexpr size_t kIovMax = 64;      // pieces per sendmsg call
constexpr int kCloseWaitMs = 1000;  // for the kernel's last notifications when we are torn down
constexpr int kHungUpPollMs = 5;

// a before b, on 32-bit notification ids that wrap.
bool IdBefore(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }

}  // namespace

ZeroCopySender::ZeroCopySender(Socket* socket, size_t max_held_bytes)
    : socket_(socket), max_held_bytes_(max_held_bytes) {
  int one = 1;
  // Refused for Unix sockets and by kernels without it: then every send copies. Kernel TLS
  // refuses MSG_ZEROCOPY, so it copies too (into its records).
  zerocopy_ = !socket_->tls() && ::setsockopt(socket_->fd(), SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one) == 0;
}

ZeroCopySender::~ZeroCopySender() {
  (void)Flush(kCloseWaitMs);
  held_.clear();
}

Status ZeroCopySender::Send(std::span<const std::string_view> pieces, std::shared_ptr<const void> hold,
                            int timeout_ms) {
  size_t bytes = 0;
  for (std::string_view p : pieces) bytes += p.size();
  if (bytes == 0) return Status::Ok();
  while (zerocopy_ && !held_.empty() && held_bytes_ + bytes > max_held_bytes_) {
    BV_RETURN_IF_ERROR(Reap(timeout_ms));
  }
  const uint32_t first_id = next_id_;
  BV_RETURN_IF_ERROR(SendOnce(pieces, timeout_ms));
  if (next_id_ != first_id) {
    held_.push_back(Held{next_id_ - 1, bytes, std::move(hold)});
    held_bytes_ += bytes;
  }
  return Reap(0);  // what is done already is released now
}

Status ZeroCopySender::SendOnce(std::span<const std::string_view> pieces, int timeout_ms) {
  if (!socket_->raw_writes()) {  // TLS in user space: every byte goes through the stream
    for (std::string_view p : pieces) BV_RETURN_IF_ERROR(socket_->WriteAll(p, timeout_ms));
    stats_.plain_calls++;
    return Status::Ok();
  }
  std::vector<iovec> iov;
  for (std::string_view p : pieces) {
    if (!p.empty()) iov.push_back({const_cast<char*>(p.data()), p.size()});
  }
  size_t at = 0;  // first iovec not yet sent whole
  while (at < iov.size()) {
    msghdr msg{};
    msg.msg_iov = &iov[at];
    msg.msg_iovlen = std::min(kIovMax, iov.size() - at);
    const bool zc = zerocopy_;
    ssize_t n = ::sendmsg(socket_->fd(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL | (zc ? MSG_ZEROCOPY : 0));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (zc && errno == ENOBUFS) {
        // The kernel's budget for pending notifications is spent: take some, or copy this time.
        if (held_.empty()) {
          zerocopy_ = false;
        } else {
          BV_RETURN_IF_ERROR(Reap(timeout_ms));
        }
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) return Status::FromErrno("write to " + socket_->peer(), errno);
      pollfd p{socket_->fd(), POLLOUT, 0};
      int r = ::poll(&p, 1, timeout_ms);
      if (r < 0 && errno != EINTR) return Status::FromErrno("write to " + socket_->peer(), errno);
      if (r == 0) {
        return Status::TimedOut("write to " + socket_->peer() + ": nothing for " + std::to_string(timeout_ms / 1000) +
                                " s");
      }
      if (p.revents & POLLERR) BV_RETURN_IF_ERROR(Reap(0));
      continue;
    }
    if (zc) {
      next_id_++;
      done_.push_back(false);
      stats_.zerocopy_calls++;
    } else {
      stats_.plain_calls++;
    }
    size_t sent = static_cast<size_t>(n);
    while (at < iov.size() && sent >= iov[at].iov_len) {
      sent -= iov[at].iov_len;
      at++;
    }
    if (sent > 0) {
      iov[at].iov_base = static_cast<char*>(iov[at].iov_base) + sent;
      iov[at].iov_len -= sent;
    }
  }
  return Status::Ok();
}

Status ZeroCopySender::Reap(int wait_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  for (;;) {
    const uint32_t before = done_below_;
    BV_RETURN_IF_ERROR(ReadNotifications());
    if (wait_ms == 0 || done_below_ != before || held_.empty()) return Status::Ok();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Status::TimedOut("write to " + socket_->peer() + ": the peer took nothing for " +
                              std::to_string(wait_ms / 1000) + " s");
    }
    // POLLERR is always reported: the error queue has something, or the connection failed. A
    // hung-up or failed socket reports at once and for ever, so a wake-up that brings nothing
    // sleeps a little rather than spin.
    pollfd p{socket_->fd(), 0, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno != EINTR) return Status::FromErrno("wait for " + socket_->peer(), errno);
    if (r <= 0) continue;
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(socket_->fd(), SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) {
      (void)ReadNotifications();
      return Status::FromErrno("write to " + socket_->peer(), err);
    }
    BV_RETURN_IF_ERROR(ReadNotifications());
    if (done_below_ != before || held_.empty()) return Status::Ok();
    ::poll(nullptr, 0, kHungUpPollMs);
  }
}

Status ZeroCopySender::ReadNotifications() {
  for (;;) {
    char control[128];
    msghdr msg{};
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    if (::recvmsg(socket_->fd(), &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return Status::FromErrno("read the completions of " + socket_->peer(), errno);
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      const bool recverr = (c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                           (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR);
      if (!recverr) continue;
      sock_extended_err err;
      std::memcpy(&err, CMSG_DATA(c), sizeof err);
      if (err.ee_origin != SO_EE_ORIGIN_ZEROCOPY || err.ee_errno != 0) continue;
      // Ids ee_info..ee_data (inclusive) are complete.
      for (uint32_t id = err.ee_info;; id++) {
        const uint32_t slot = id - done_below_;
        if (slot < done_.size()) done_[slot] = true;
        if (err.ee_code & SO_EE_CODE_ZEROCOPY_COPIED) stats_.copied_calls++;
        if (id == err.ee_data) break;
      }
      // The kernel copied after all (loopback does): from now on, copy ourselves and skip the
      // notification work.
      if (err.ee_code & SO_EE_CODE_ZEROCOPY_COPIED) zerocopy_ = false;
    }
  }
  while (!done_.empty() && done_.front()) {
    done_.pop_front();
    done_below_++;
  }
  Release();
  return Status::Ok();
}

void ZeroCopySender::Release() {
  while (!held_.empty() && IdBefore(held_.front().last_id, done_below_)) {
    held_bytes_ -= held_.front().bytes;
    held_.pop_front();
  }
}

Status ZeroCopySender::Flush(int timeout_ms) {
  while (!held_.empty()) BV_RETURN_IF_ERROR(Reap(timeout_ms));
  return Status::Ok();
}

}  // namespace bv::io
