// Sends to real sockets: zero-copy send over TCP (where the kernel copies on loopback, it says
// so and the sender stops asking) and over a Unix socket (where it cannot), and splice from a file.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <thread>

#include "io/env.h"
#include "io/file_splicer.h"
#include "io/hold_back_splicer.h"
#include "io/socket.h"
#include "io/zero_copy_sender.h"
#include "tests/test_util.h"

namespace bv::io {
namespace {

constexpr int kTimeoutMs = 10000;

// A connected pair over `address` ("127.0.0.1:0" or "unix:PATH"), and a reader that collects
// everything the far end receives.
struct Pair {
  explicit Pair(const std::string& address) {
    auto l = Listener::Open(address);
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    listener = std::move(l).value();
    std::thread accept([&] { far = std::move(listener->Accept()).value(); });
    near = std::move(Connect(listener->address(), kTimeoutMs)).value();
    accept.join();
    reader = std::thread([this] {
      std::string buf(1 << 16, '\0');
      for (;;) {
        auto got = far->Read(buf.data(), buf.size(), kTimeoutMs);
        if (!got.ok() || *got == 0) return;
        received.append(buf.data(), *got);
      }
    });
  }
  std::string Finish() {
    EXPECT_TRUE(near->ShutdownWrite().ok());
    reader.join();
    return received;
  }
  std::unique_ptr<Listener> listener;
  std::unique_ptr<Socket> near, far;
  std::thread reader;
  std::string received;
};

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Sends 64 batches of pieces, each held by a counter that says when the sender let it go.
void SendBatches(ZeroCopySender* z, std::string* expect, std::atomic<int>* live) {
  for (int i = 0; i < 64; i++) {
    auto batch = std::make_shared<std::string>(RandomBytes(200000 + i * 1000, i));
    std::shared_ptr<const void> hold(batch.get(), [batch, live](const void*) { (*live)--; });
    (*live)++;
    std::string_view b(*batch);
    std::vector<std::string_view> pieces = {b.substr(0, 1000), b.substr(1000, 65536), b.substr(66536)};
    expect->append(*batch);
    ASSERT_OK(z->Send(pieces, std::move(hold), kTimeoutMs));
  }
}

TEST(ZeroCopySender, TcpDeliversEveryByteAndReleasesEveryHold) {
  Pair p("127.0.0.1:0");
  std::string expect;
  std::atomic<int> live{0};
  {
    ZeroCopySender z(p.near.get(), 4 << 20);
    const bool asked = z.zerocopy();
    SendBatches(&z, &expect, &live);
    ASSERT_OK(z.Flush(kTimeoutMs));
    EXPECT_EQ(live.load(), 0) << "every hold is released once the kernel is done";
    if (asked) {
      EXPECT_GT(z.stats().zerocopy_calls, 0u);
      // Loopback delivers by copying; the kernel says so and the sender stops asking.
      if (z.stats().copied_calls > 0) {
        EXPECT_FALSE(z.zerocopy());
        EXPECT_GT(z.stats().plain_calls, 0u);
      }
    }
  }
  EXPECT_TRUE(p.Finish() == expect) << "bytes differ";
}

TEST(ZeroCopySender, UnixSocketCopies) {
  test::TempDir tmp;
  Pair p("unix:" + (tmp / "s"));
  std::string expect;
  std::atomic<int> live{0};
  ZeroCopySender z(p.near.get(), 4 << 20);
  EXPECT_FALSE(z.zerocopy());
  SendBatches(&z, &expect, &live);
  EXPECT_EQ(live.load(), 0) << "a copying send holds nothing";
  EXPECT_EQ(z.stats().zerocopy_calls, 0u);
  EXPECT_TRUE(p.Finish() == expect);
}

// A peer that reads nothing: the send times out, and tearing the sender down neither hangs nor
// spins, whether the peer is still there or has gone.
TEST(ZeroCopySender, StalledPeerTimesOutAndTearDownIsPrompt) {
  for (bool peer_leaves : {false, true}) {
    auto l = Listener::Open("127.0.0.1:0");
    ASSERT_TRUE(l.ok());
    std::unique_ptr<Socket> far;
    std::thread accept([&] { far = std::move((*l)->Accept()).value(); });
    auto near = Connect((*l)->address(), kTimeoutMs);
    accept.join();
    ASSERT_TRUE(near.ok());
    const auto t0 = std::chrono::steady_clock::now();
    {
      ZeroCopySender z(near->get(), 1 << 20);
      auto batch = std::make_shared<std::string>(RandomBytes(1 << 20, 3));
      Status s;
      for (int i = 0; i < 64 && s.ok(); i++) {
        std::string_view piece(*batch);
        s = z.Send({&piece, 1}, batch, 200);
      }
      EXPECT_EQ(s.code(), Status::Code::kTimedOut) << s.ToString();
      if (peer_leaves) far.reset();
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(secs, 10.0) << "peer_leaves=" << peer_leaves;
  }
}

TEST(FileSplicer, SendsFileRangesExactly) {
  test::TempDir tmp;
  const std::string data = RandomBytes(3 << 20, 7);
  std::ofstream(tmp / "f", std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
  Pair p("127.0.0.1:0");
  auto s = FileSplicer::Create();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto f = SystemEnv()->Open(tmp / "f", OpenMode::kReadCached);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_FALSE((*f)->direct());
  std::string expect;
  for (auto [off, n] : {std::pair<uint64_t, size_t>{0, 100}, {12345, 2 << 20}, {(3 << 20) - 7, 7}, {5, 0}}) {
    ASSERT_OK((*s)->Send(f->get(), off, n, p.near.get(), kTimeoutMs));
    expect += data.substr(off, n);
  }
  // A range past the end is an error that names the place.
  Status past = (*s)->Send(f->get(), (3 << 20) - 10, 20, p.near.get(), kTimeoutMs);
  EXPECT_EQ(past.code(), Status::Code::kCorruption) << past.ToString();
  EXPECT_NE(past.message().find("ends at offset 3145728"), std::string::npos) << past.message();
  expect += data.substr((3 << 20) - 10);
  EXPECT_TRUE(p.Finish() == expect);
}

// Both ends of a fresh connection over `address`; null ends if it failed.
std::pair<std::unique_ptr<Socket>, std::unique_ptr<Socket>> Connected(const std::string& address) {
  auto l = Listener::Open(address);
  if (!l.ok()) return {};
  std::unique_ptr<Socket> far;
  std::thread accept([&] {
    auto a = (*l)->Accept();
    if (a.ok()) far = std::move(a).value();
  });
  auto near = Connect((*l)->address(), kTimeoutMs);
  accept.join();
  if (!near.ok()) return {};
  return {std::move(near).value(), std::move(far)};
}

// Whatever the packets look like (large sends over TCP, or a thousand 7-byte sends over a Unix
// socket, which fill the pipe's slots long before its bytes), every byte but the last `hold`
// reaches the output in order, and the rest is the tail.
TEST(HoldBackSplicer, PassesAllButTheTailInOrder) {
  struct Case {
    std::string address;
    size_t piece, count, hold;
  };
  test::TempDir tmp;
  const std::string a = "unix:" + (tmp / "a"), b = "unix:" + (tmp / "b");
  for (const Case& c : {Case{"127.0.0.1:0", 1 << 20, 24, 64 << 10}, Case{a, 7, 3000, 64 << 10},
                        Case{"127.0.0.1:0", 100, 50, 64 << 10}, Case{b, 4096, 300, 1}}) {
    auto [near, far] = Connected(c.address);
    ASSERT_TRUE(near && far);
    const std::string sent = test::RandomBytes(c.piece * c.count, c.piece);
    std::thread writer([&] {
      for (size_t i = 0; i < c.count; i++) {
        ASSERT_TRUE(far->WriteAll(std::string_view(sent).substr(i * c.piece, c.piece), kTimeoutMs).ok());
        if (c.piece < 100) std::this_thread::sleep_for(std::chrono::microseconds(20));  // one packet each
      }
      far.reset();
    });
    int out[2];
    ASSERT_EQ(::pipe(out), 0);
    std::string output;
    std::thread drain([&] {
      std::string buf(1 << 16, '\0');
      for (ssize_t r; (r = ::read(out[0], buf.data(), buf.size())) > 0;) output.append(buf.data(), static_cast<size_t>(r));
    });
    auto splicer = HoldBackSplicer::Create(c.hold);
    ASSERT_TRUE(splicer.ok());
    auto got = (*splicer)->Run(near->fd(), out[1], kTimeoutMs, nullptr);
    writer.join();
    ::close(out[1]);
    drain.join();
    ::close(out[0]);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, sent.size());
    auto tail = (*splicer)->Tail();
    ASSERT_TRUE(tail.ok());
    const size_t kept = std::min(c.hold, sent.size());
    EXPECT_EQ(tail->size(), kept) << c.address << " piece " << c.piece;
    EXPECT_TRUE(output + *tail == sent) << c.address << " piece " << c.piece;
  }
}

// A server that sends a little and then neither sends nor closes: the splicer gives up after its
// timeout, on a blocking TCP socket too (a splice from one would wait for data forever).
TEST(HoldBackSplicer, SilentServerTimesOut) {
  auto [near, far] = Connected("127.0.0.1:0");
  ASSERT_TRUE(near && far);
  ASSERT_TRUE(far->WriteAll(std::string(100, 'x'), kTimeoutMs).ok());
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  auto splicer = HoldBackSplicer::Create(64 << 10);
  ASSERT_TRUE(splicer.ok());
  const auto start = std::chrono::steady_clock::now();
  auto got = (*splicer)->Run(near->fd(), out[1], 300, nullptr);
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(got.status().code(), Status::Code::kTimedOut) << got.status().ToString();
  EXPECT_LT(waited, std::chrono::seconds(5));
  ::close(out[0]);
  ::close(out[1]);
}

}  // namespace
}  // namespace bv::io
