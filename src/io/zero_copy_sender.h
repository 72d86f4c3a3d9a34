// Sends bytes on a socket without copying them into the kernel (MSG_ZEROCOPY): the kernel sends
// straight from our pages and says when it is done with them, so each send carries a hold (the
// owner of the pages) that is released only then. Where the kernel cannot (a Unix socket, a
// kernel without SO_ZEROCOPY) or reports that it copied anyway (loopback delivers by copying),
// the sender switches to plain sends, as the kernel's documentation advises. On a TLS socket the
// kernel does not encrypt (no kTLS), every send goes through the socket's TLS stream instead.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string_view>

#include "base/status.h"
#include "io/socket.h"

namespace bv::io {

class ZeroCopySender {
 public:
  // At most max_held_bytes of sent bytes wait for the kernel at a time; Send waits beyond that.
  ZeroCopySender(Socket* socket, size_t max_held_bytes);
  // Waits (a little) for the kernel to finish with what it holds, then releases every hold.
  ~ZeroCopySender();
  ZeroCopySender(const ZeroCopySender&) = delete;
  ZeroCopySender& operator=(const ZeroCopySender&) = delete;

  // Sends every piece, in order. `hold` owns their memory and is kept until the kernel no longer
  // reads it. TimedOut if the peer takes nothing for timeout_ms.
  Status Send(std::span<const std::string_view> pieces, std::shared_ptr<const void> hold, int timeout_ms);
  // Waits until the kernel holds nothing of ours.
  Status Flush(int timeout_ms);

  bool zerocopy() const { return zerocopy_; }
  struct Stats {
    uint64_t zerocopy_calls = 0;  // sendmsg calls with MSG_ZEROCOPY
    uint64_t copied_calls = 0;    // of those, the kernel reported it copied
    uint64_t plain_calls = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  struct Held {
    uint32_t last_id;  // the notification id of the last call that sent its bytes
    size_t bytes;
    std::shared_ptr<const void> hold;
  };
  Status SendOnce(std::span<const std::string_view> pieces, int timeout_ms);
  // Reads the completion notifications waiting; with wait_ms > 0, waits up to that long until
  // one releases something.
  Status Reap(int wait_ms);
  Status ReadNotifications();
  void Release();

  Socket* socket_;
  size_t max_held_bytes_;
  bool zerocopy_ = false;
  uint32_t next_id_ = 0;        // of the next MSG_ZEROCOPY call
  uint32_t done_below_ = 0;     // every id before this one is complete
  std::deque<bool> done_;       // ids done_below_.. next_id_-1: complete yet?
  std::deque<Held> held_;
  size_t held_bytes_ = 0;
  Stats stats_;
};

}  // namespace bv::io
