// io::Socket over TLS: the handshake verifies the pinned fingerprint, bytes go both ways and end
// cleanly, writes from any alignment arrive whole, and the plain socket's semantics hold: a read
// times out, Interrupt fails a blocked read at once, and a handshake with a silent peer ends at
// its deadline.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include "io/socket.h"
#include "io/tls_certificate.h"
#include "io/tls_context.h"
#include "tests/test_util.h"

namespace bv::io {
namespace {

constexpr int kTimeoutMs = 10000;

struct TlsPair {
  TlsPair() {
    ::signal(SIGPIPE, SIG_IGN);  // OpenSSL's alerts go out with write(2) (socket.h)
    const std::string cert = dir.path() + "/cert.pem", key = dir.path() + "/key.pem";
    EXPECT_TRUE(MakeSelfSignedCertificate(cert, key, {"localhost", "127.0.0.1"}).ok());
    fingerprint = std::move(FileFingerprint(cert)).value();
    server_ctx = std::move(TlsContext::ForServer(cert, key)).value();
    listener = std::move(Listener::Open("127.0.0.1:0")).value();
  }
  // Connects and runs both handshakes; the client pins `pin`.
  Status Handshake(const std::string& pin) {
    Status server_status;
    std::thread accept([&] {
      far = std::move(listener->Accept()).value();
      server_status = far->StartTls(server_ctx, "", kTimeoutMs);
    });
    near = std::move(Connect(listener->address(), kTimeoutMs)).value();
    TlsClientOptions o;
    o.fingerprint = pin;
    Status s = near->StartTls(std::move(TlsContext::ForClient(o)).value(), "127.0.0.1", kTimeoutMs);
    if (!s.ok()) near.reset();  // the server's handshake ends too
    accept.join();
    return s.ok() ? server_status : s;
  }
  test::TempDir dir;
  std::string fingerprint;
  std::shared_ptr<TlsContext> server_ctx;
  std::unique_ptr<Listener> listener;
  std::unique_ptr<Socket> near, far;
};

TEST(TlsSocket, BytesBothWaysAndACleanEnd) {
  TlsPair p;
  ASSERT_TRUE(p.Handshake(p.fingerprint).ok());
  EXPECT_FALSE(p.near->raw_reads());
  EXPECT_EQ(p.near->tls()->PeerFingerprint(), p.fingerprint);
  const std::string payload(3 << 20, 'x');
  std::thread writer([&] {
    EXPECT_TRUE(p.near->WriteAll(payload, kTimeoutMs).ok());
    EXPECT_TRUE(p.near->ShutdownWrite().ok());
  });
  std::string got, buf(1 << 16, '\0');
  for (;;) {
    auto n = p.far->Read(buf.data(), buf.size(), kTimeoutMs);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    if (*n == 0) break;
    got.append(buf.data(), *n);
  }
  writer.join();
  EXPECT_EQ(got, payload);
}

// WriteAll stages sources that are not 8 bytes past a multiple of 16 (tls_session.cc): from every
// start modulo 64, short and long, the bytes arrive as they were, in order.
TEST(TlsSocket, WritesFromEveryAlignmentArriveWhole) {
  TlsPair p;
  ASSERT_TRUE(p.Handshake(p.fingerprint).ok());
  std::string source((1 << 20) + 64, '\0');
  for (size_t i = 0; i < source.size(); i++) source[i] = static_cast<char>((i * 131 + i / 4093) & 0xff);
  std::string sent;
  std::thread writer([&] {
    for (size_t start = 0; start < 64; start++) {
      const std::string_view piece(source.data() + start, start % 2 == 0 ? (200 << 10) + start : 5000 + start);
      EXPECT_TRUE(p.near->WriteAll(piece, kTimeoutMs).ok());
      sent.append(piece);
    }
    EXPECT_TRUE(p.near->ShutdownWrite().ok());
  });
  std::string got, buf(1 << 16, '\0');
  for (;;) {
    auto n = p.far->Read(buf.data(), buf.size(), kTimeoutMs);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    if (*n == 0) break;
    got.append(buf.data(), *n);
  }
  writer.join();
  EXPECT_EQ(got.size(), sent.size());
  EXPECT_TRUE(got == sent);
}

TEST(TlsSocket, AWrongPinFailsTheHandshake) {
  TlsPair p;
  std::string other = p.fingerprint;
  other[0] = other[0] == 'A' ? 'B' : 'A';
  Status s = p.Handshake(other);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not the pinned"), std::string::npos) << s.ToString();
}

TEST(TlsSocket, AReadTimesOutAndInterruptFailsItAtOnce) {
  TlsPair p;
  ASSERT_TRUE(p.Handshake(p.fingerprint).ok());
  char c;
  auto got = p.far->Read(&c, 1, 200);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Status::Code::kTimedOut);
  const auto t0 = std::chrono::steady_clock::now();
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    p.far->Interrupt();
  });
  got = p.far->Read(&c, 1, kTimeoutMs);
  stopper.join();
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().message().find("interrupted"), std::string::npos) << got.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST(TlsSocket, AHandshakeWithASilentPeerEndsAtItsDeadline) {
  TlsPair p;
  std::unique_ptr<Socket> silent = std::move(Connect(p.listener->address(), kTimeoutMs)).value();
  auto far = std::move(p.listener->Accept()).value();
  const auto t0 = std::chrono::steady_clock::now();
  Status s = far->StartTls(p.server_ctx, "", 300);
  EXPECT_EQ(s.code(), Status::Code::kTimedOut) << s.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

}  // namespace
}  // namespace bv::io
