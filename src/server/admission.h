// Connection slots before and after AUTH (docs/protocol.md §10). Of the server's max_connections,
// at most max_unauthenticated (and never more than half) may be connections that have not
// authenticated yet, so connections that never log in (slow drip, guessing) cannot take the
// slots authenticated sessions need. When that pool is full, a new connection takes the slot of
// the oldest waiting connection of the address that holds the most of the pool, if that address
// holds more than the newcomer's own: one address cannot keep others from logging in. Of the
// addresses that hold the most, the connection that has waited longest goes. When every address
// holds one, it goes only once it has waited kEvictAgeMin: a client that takes a second to log in
// is not pushed out by a flood of connections from many addresses. A newcomer from an address
// that has authenticated before (one of the last kKnownAddressesMax) may take the slot of the
// longest waiting connection from an address that never has, however young: a flood from many
// addresses cannot keep the database hosts that log in every night out.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "base/status.h"
#include "io/socket.h"

namespace bv::server {

struct AdmissionLimits {
  uint32_t max_connections = 256;
  uint32_t max_unauthenticated = 64;
};

class Admission {
 public:
  using Clock = std::chrono::steady_clock;
  // How long a connection may wait to authenticate before a newcomer may take its slot.
  static constexpr std::chrono::seconds kEvictAgeMin{2};
  // How many addresses that authenticated are remembered (the least recent is forgotten first).
  static constexpr size_t kKnownAddressesMax = 4096;

  // A connection's slot, from accept to close; it stops counting as unauthenticated at AUTH.
  class Ticket {
   public:
    ~Ticket() { admission_->Release(this); }
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    void Authenticated() { admission_->Authenticate(this); }
    // Whether a newer connection took this one's slot before it authenticated (its socket was
    // interrupted then).
    bool evicted() const { return evicted_; }

   private:
    friend class Admission;
    Ticket(Admission* a, std::string address, io::Socket* socket, Clock::time_point admitted)
        : admission_(a), address_(std::move(address)), socket_(socket), admitted_(admitted) {}
    Admission* admission_;
    const std::string address_;
    io::Socket* socket_;
    const Clock::time_point admitted_;
    bool waiting_ = true;  // not authenticated yet; under the admission's lock
    std::atomic<bool> evicted_{false};
  };

  // A slot for `socket`, a new connection from `address` (the peer without its port), or Busy
  // saying which limit is reached.
  Result<std::unique_ptr<Ticket>> Admit(const std::string& address, io::Socket* socket, const AdmissionLimits& limits,
                                        Clock::time_point now = Clock::now());
  size_t open() const;

 private:
  void Authenticate(Ticket* t);
  void Release(Ticket* t);
  // Makes room in a full pool for a connection from `address`; false if that would be unfair.
  bool EvictFor(const std::string& address, Clock::time_point now);
  // The longest waiting of the addresses that hold the most, if fair to evict for `address`.
  Ticket* FairVictim(const std::string& address, Clock::time_point now) const;
  // For a known `address`: the longest waiting connection from an address never known.
  Ticket* StrangerVictim(const std::string& address) const;
  void Remember(const std::string& address);
  bool Known(const std::string& address) const { return known_index_.contains(address); }
  void StopWaiting(Ticket* t);  // under mu_

  mutable std::mutex mu_;
  size_t open_ = 0;
  size_t waiting_ = 0;
  std::map<std::string, std::deque<Ticket*>> waiting_by_address_;  // oldest first
  std::list<std::string> known_;                                   // most recently authenticated first
  std::unordered_map<std::string, std::list<std::string>::iterator> known_index_;
};

// The source of a peer as the limits count it, from the name io::Socket gives it: "127.0.0.3" of
// "127.0.0.3:41234"; an IPv6 address by its /64 ("2001:db8:1:2::/64" of "[2001:db8:1:2::7]:41234"),
// since one host holds a whole /64; "127.0.0.1" of "[::ffff:127.0.0.1]:41234"; "unix" for a Unix
// socket's peer.
std::string PeerAddress(const std::string& peer);

}  // namespace bv::server
