#include "io/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/wait.h"

namespace bv::io {

namespace {

struct Address {
  bool is_unix = false;
  std::string host, port, path;
};

Result<Address> ParseAddress(const std::string& address) {
  Address a;
  if (address.rfind("unix:", 0) == 0) {
    a.is_unix = true;
    a.path = address.substr(5);
    if (a.path.empty() || a.path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      return Status::InvalidArgument("address " + address + ": a Unix socket path of 1 to 107 bytes is needed");
    }
    return a;
  }
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) {
    return Status::InvalidArgument("address " + address + ": expected HOST:PORT or unix:/PATH");
  }
  a.host = address.substr(0, colon);
  a.port = address.substr(colon + 1);
  if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']') a.host = a.host.substr(1, a.host.size() - 2);
  for (char c : a.port) {
    if (c < '0' || c > '9') return Status::InvalidArgument("address " + address + ": port is not a number");
  }
  if (a.port.size() > 5 || std::stoul(a.port) > 65535) {
    return Status::InvalidArgument("address " + address + ": port is beyond 65535");
  }
  return a;
}

std::string Describe(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return "unix";
}

bool IsLoopback(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_UNIX) return true;
  if (ss.ss_family == AF_INET) {
    return (ntohl(reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr.s_addr) >> 24) == 127;
  }
  if (ss.ss_family == AF_INET6) {
    const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&a)) return true;
    return IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127;
  }
  return false;
}

constexpr int kTlsCloseMs = 10000;  // for close_notify to go out

sockaddr_un UnixAddress(const std::string& path) {
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::memcpy(un.sun_path, path.data(), path.size());
  return un;
}

}  // namespace

Socket::~Socket() {
  if (fd_ >= 0) ::close(fd_);
}

Status Socket::Wait(short events, int timeout_ms, const char* what) {
  return WaitFor(fd_, events, timeout_ms, std::string(what) + " " + peer_);
}

Result<size_t> Socket::Read(char* dst, size_t n, int timeout_ms) {
  if (tls_) return tls_->Read(dst, n, timeout_ms);
  for (;;) {
    ssize_t got = ::recv(fd_, dst, n, MSG_DONTWAIT);
    if (interrupted_) return Status::IOError("read from " + peer_ + ": interrupted by the server stopping");
    if (got >= 0) return static_cast<size_t>(got);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return Status::FromErrno("read from " + peer_, errno);
    BV_RETURN_IF_ERROR(Wait(POLLIN, timeout_ms, "read from"));
  }
}

Status Socket::WriteAll(std::string_view bytes, int timeout_ms, bool more) {
  if (tls_) return tls_->WriteAll(bytes, timeout_ms);
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    if (n >= 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return Status::FromErrno("write to " + peer_, errno);
    BV_RETURN_IF_ERROR(Wait(POLLOUT, timeout_ms, "write to"));
  }
  return Status::Ok();
}

Status Socket::ShutdownWrite() {
  if (tls_) BV_RETURN_IF_ERROR(tls_->Shutdown(kTlsCloseMs));
  if (::shutdown(fd_, SHUT_WR) != 0 && errno != ENOTCONN) return Status::FromErrno("shutdown " + peer_, errno);
  return Status::Ok();
}

void Socket::AbortOnClose() {
  aborted_ = true;
  const linger reset{1, 0};  // SO_LINGER with a zero timeout: close(2) sends RST
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
}

void Socket::Interrupt() {
  interrupted_ = true;
  ::shutdown(fd_, SHUT_RDWR);
}

Status Socket::StartTls(std::shared_ptr<TlsContext> ctx, const std::string& host, int timeout_ms) {
  BV_ASSERT(!tls_);
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0 || ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK) != 0) return Status::FromErrno("fcntl " + peer_, errno);
  BV_ASSIGN_OR_RETURN(tls_, TlsSession::Handshake(std::move(ctx), fd_, host, peer_, &interrupted_, timeout_ms));
  return Status::Ok();
}

Result<std::unique_ptr<Listener>> Listener::Open(const std::string& address) {
  BV_ASSIGN_OR_RETURN(Address a, ParseAddress(address));
  if (a.is_unix) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Status::FromErrno("socket for " + address, errno);
    // A socket file left by a process that died is in the way; a live one answers and is kept.
    sockaddr_un un = UnixAddress(a.path);
    int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0) {
      const bool live = ::connect(probe, reinterpret_cast<sockaddr*>(&un), sizeof un) == 0;
      ::close(probe);
      if (live) {
        ::close(fd);
        return Status::Busy("listen on " + address + ": another process is serving it");
      }
    }
    ::unlink(a.path.c_str());
    if (::bind(fd, reinterpret_cast<sockaddr*>(&un), sizeof un) != 0 || ::listen(fd, 128) != 0) {
      int err = errno;
      ::close(fd);
      return Status::FromErrno("listen on " + address, err);
    }
    ::chmod(a.path.c_str(), 0660);
    return std::unique_ptr<Listener>(new Listener(fd, address, a.path, /*local=*/true));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(a.host.empty() ? nullptr : a.host.c_str(), a.port.c_str(), &hints, &res); rc != 0) {
    return Status::InvalidArgument("listen on " + address + ": " + gai_strerror(rc));
  }
  Status last = Status::InvalidArgument("listen on " + address + ": no usable address");
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last = Status::FromErrno("socket for " + address, errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, 128) != 0) {
      last = Status::FromErrno("listen on " + address, errno);
      ::close(fd);
      continue;
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    ::freeaddrinfo(res);
    return std::unique_ptr<Listener>(new Listener(fd, Describe(ss), "", IsLoopback(ss)));
  }
  ::freeaddrinfo(res);
  return last;
}

Listener::~Listener() {
  if (fd_ >= 0) ::close(fd_);
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
}

Result<std::unique_ptr<Socket>> Listener::Accept() {
  for (;;) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
    if (fd >= 0) {
      if (ss.ss_family != AF_UNIX) {
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      }
      auto sock = std::make_unique<Socket>(fd, Describe(ss));
      sock->local_ = IsLoopback(ss);
      return sock;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    return Status::FromErrno("accept on " + address_, errno);
  }
}

Result<std::unique_ptr<Socket>> Connect(const std::string& address, int timeout_ms) {
  BV_ASSIGN_OR_RETURN(Address a, ParseAddress(address));
  if (a.is_unix) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Status::FromErrno("socket", errno);
    sockaddr_un un = UnixAddress(a.path);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&un), sizeof un) != 0) {
      int err = errno;
      ::close(fd);
      return Status::FromErrno("connect to " + address, err);
    }
    auto sock = std::make_unique<Socket>(fd, address);
    sock->local_ = true;
    return sock;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(a.host.c_str(), a.port.c_str(), &hints, &res); rc != 0) {
    return Status::InvalidArgument("connect to " + address + ": " + gai_strerror(rc));
  }
  Status last = Status::InvalidArgument("connect to " + address + ": no usable address");
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof err;
      if (::poll(&p, 1, timeout_ms) == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
        rc = 0;
      } else {
        errno = err != 0 ? err : ETIMEDOUT;
      }
    }
    if (rc != 0) {
      last = Status::FromErrno("connect to " + address, errno);
      ::close(fd);
      continue;
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto sock = std::make_unique<Socket>(fd, address);
    sockaddr_storage ss{};
    std::memcpy(&ss, ai->ai_addr, std::min<size_t>(ai->ai_addrlen, sizeof ss));
    sock->local_ = IsLoopback(ss);
    ::freeaddrinfo(res);
    return sock;
  }
  ::freeaddrinfo(res);
  return last;
}

}  // namespace bv::io
