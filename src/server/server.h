// bvd: listeners, one thread per connection, tenants, and the shared workers every session's
// pipeline runs on. Start, then Stop (SIGTERM: finish within the grace period, then abort) or
// Reload (SIGHUP: tenants and their settings, without dropping a connection).
#pragma once

#include <atomic>
#include <condition_variable>
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
#include "server/config.h"
#include "server/tenant.h"
#include "server/tls_identity.h"

namespace bv::server {

struct ServerOptions {
  ServerConfig config;
  std::string config_path;  // re-read on Reload; empty: the embedded default
  io::Backend backend = io::Backend::kUring;
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
  engine::ThreadPool* pool() { return &pool_; }
  engine::BatchBudget* budget() { return &budget_; }
  bool stopping() const { return stopping_; }

 private:
  explicit Server(ServerOptions opts);
  Status OpenTenants(const ServerConfig& config);
  Status OpenListeners(const ServerConfig& config);
  void AcceptLoop();
  void Serve(std::unique_ptr<io::Socket> socket, bool tls);
  void RunConnection(io::Socket* socket, bool tls);

  ServerOptions opts_;
  engine::Key appliance_key_{};
  engine::ThreadPool pool_;
  engine::BatchBudget budget_{kBatchBudget};
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
