// bvd: listeners, one thread per connection, tenants, and the shared workers every session's
// pipeline runs on. Start, then Stop (SIGTERM: finish within the grace period, then abort) or
// Reload (SIGHUP: tenants and their settings, without dropping a connection).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/put_options.h"
#include "engine/thread_pool.h"
#include "io/socket.h"
#include "io/tls_context.h"
#include "server/admission.h"
#include "server/auth_limiter.h"
#include "server/config.h"
#include "server/log_throttle.h"
#include "server/memory_budget.h"
#include "server/tenant.h"
#include "server/tls_identity.h"

namespace bv::server {

struct ServerOptions {
  ServerConfig config;
  std::string config_path;  // re-read on Reload; empty: the embedded default
  io::Backend backend = io::Backend::kUring;
  // Gives the calling thread's free allocator memory back to the system (mi_collect, malloc_trim);
  // run on every thread that allocates for sessions once no session draws memory.
  std::function<void()> release_memory;
};

// Batches in flight across all sessions (docs/protocol.md §10 derives the memory bound from it).
inline constexpr ptrdiff_t kBatchBudget = 8;
inline constexpr size_t kSessionBatchInput = 1 << 20;
inline constexpr size_t kSessionBatchOutput = 1 << 20;
inline constexpr size_t kSessionRestoreBatches = 3;
inline constexpr size_t kSessionReadWindow = 1 << 20;
// Restored bytes a session's zero-copy sends may leave with the kernel before it waits.
inline constexpr size_t kSessionSendHeld = 3 << 20;
inline constexpr uint64_t kFrameMax = 16 << 20;  // bytes in one DATA frame
// What sessions draw from the memory budget (docs/protocol.md §10 derives each): a raw restore's
// batches read ahead, one being read and one being sent (a read buffer and its decoded bytes
// each), the bytes zero-copy send holds and the recipe window; a verify, the same without sends;
// a format=blocks restore, its pipe and window; a push, its read batch and line buffer.
inline constexpr uint64_t kRestoreDraw =
    (kSessionRestoreBatches + 2) * (kSessionBatchOutput + kSessionBatchOutput) + kSessionSendHeld + kSessionReadWindow;
inline constexpr uint64_t kVerifyDraw = kRestoreDraw - kSessionSendHeld;
inline constexpr uint64_t kBlocksRestoreDraw = (1 << 20) + kSessionReadWindow;
inline constexpr uint64_t kPushDraw = 2 << 20;
static_assert(kRestoreDraw == 14 << 20);
// Set aside at start: each connection's line buffer, and the pushes' shared batches.
inline constexpr uint64_t kConnectionMemory = 64 << 10;
inline constexpr uint64_t kPushBatchesMemory = kBatchBudget * (kSessionBatchInput + kSessionBatchOutput);
// Log lines a second about failed logins and refused connections, at most.
inline constexpr uint32_t kOutsiderLogLinesPerSecond = 20;

class Server {
 public:
  static Result<std::unique_ptr<Server>> Start(ServerOptions opts);
  ~Server();

  // Bound addresses, in the order configured: plain ones, then TLS ones as "tls://HOST:PORT".
  std::vector<std::string> addresses() const;
  // The TLS certificate, when there are TLS listeners.
  const std::optional<TlsIdentity>& tls_identity() const { return tls_identity_; }
  // Stops accepting, gives running sessions the grace period, aborts the rest, closes volumes.
  Status Stop();
  Status Reload();

  // For sessions.
  std::shared_ptr<Tenant> FindTenant(const std::string& name);
  ServerConfig settings() const;
  // The free disk space pushes leave for prune and compaction (config disk_reserve_mib), in bytes.
  uint64_t DiskReserve() const;
  engine::ThreadPool* pool() { return &pool_; }
  engine::BatchBudget* budget() { return &budget_; }
  AuthLimiter* auth_limiter() { return &auth_limiter_; }
  MemoryBudget* memory() { return memory_.get(); }
  // For log lines an outsider can cause (docs/protocol.md §10).
  LogThrottle* outsider_log() { return &outsider_log_; }
  bool stopping() const { return stopping_; }

 private:
  explicit Server(ServerOptions opts);
  Status OpenTenants(const ServerConfig& config);
  Status StartMemoryBudget(const ServerConfig& config);
  void ReleaseMemory();
  Status OpenListeners(const ServerConfig& config);
  void AcceptLoop();
  void Serve(std::unique_ptr<io::Socket> socket, bool tls);
  void RunConnection(io::Socket* socket, bool tls, Admission::Ticket* ticket);

  ServerOptions opts_;
  engine::Key appliance_key_{};
  engine::ThreadPool pool_;
  engine::BatchBudget budget_{kBatchBudget};
  Admission admission_;
  AuthLimiter auth_limiter_;
  LogThrottle outsider_log_{kOutsiderLogLinesPerSecond};
  std::unique_ptr<MemoryBudget> memory_;
  std::vector<std::unique_ptr<io::Listener>> listeners_;
  std::vector<bool> listener_tls_;  // beside listeners_
  std::optional<TlsIdentity> tls_identity_;
  std::shared_ptr<io::TlsContext> tls_;
  int wake_[2] = {-1, -1};  // a pipe that wakes the accept loop to stop
  std::thread accept_thread_;

  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  ServerConfig settings_;
  std::map<std::string, std::shared_ptr<Tenant>> tenants_;
  std::set<io::Socket*> live_;  // sockets of running sessions, to interrupt at the deadline
  size_t sessions_ = 0;
  std::atomic<bool> stopping_{false};
  bool stopped_ = false;
};

// Creates DATA/APPLIANCE (its id) and the appliance key on first start; loads them after.
Result<engine::Key> LoadOrCreateApplianceKey(const std::string& data_dir, const std::string& key_file,
                                             std::string* key_path, bool* created);

}  // namespace bv::server
