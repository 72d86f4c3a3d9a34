#include "server/server.h"

#include <fcntl.h>
#include <poll.h>
#include <sodium.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "engine/keys.h"
#include "io/disk_space.h"
#include "io/env.h"
#include "server/session.h"
#include "server/tenant_jobs.h"

namespace bv::server {

namespace {

constexpr int kTlsLingerMs = 5000;  // for a TLS peer to close after the session ended
constexpr int kTlsLingerSliceMs = 250;

}  // namespace

Result<engine::Key> LoadOrCreateApplianceKey(const std::string& data_dir, const std::string& key_file,
                                             std::string* key_path, bool* created) {
  *created = false;
  BV_RETURN_IF_ERROR(io::MakeDirs(data_dir, 0700));
  const std::string id_path = data_dir + "/APPLIANCE";
  std::string id;
  if (io::PathExists(id_path)) {
    BV_ASSIGN_OR_RETURN(id, io::ReadSmallFile(id_path, 256));
    while (!id.empty() && id.back() == '\n') id.pop_back();
  } else {
    BV_ASSERT(sodium_init() >= 0);
    uint8_t raw[16];
    randombytes_buf(raw, sizeof raw);
    char hex[33];
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    id = std::string("bvd-") + hex;
    BV_RETURN_IF_ERROR(io::WriteFileAtomic(id_path, id + "\n"));
  }
  *key_path = key_file.empty() ? engine::DefaultKeyDir() + "/" + id + ".key" : key_file;
  // Symbolic links resolved: a data directory reached through a link is still the same directory.
  std::error_code ec;
  const std::string real_dir = std::filesystem::weakly_canonical(data_dir, ec).string();
  if (ec) return Status::IOError("resolve " + data_dir + ": " + ec.message());
  const std::string real_key = std::filesystem::weakly_canonical(*key_path, ec).string();
  if (ec) return Status::IOError("resolve " + *key_path + ": " + ec.message());
  if (real_key.rfind(real_dir + "/", 0) == 0) {
    return Status::InvalidArgument("the key file must live outside the data directory: " + *key_path +
                                   (real_key != *key_path ? " is " + real_key : "") + ", inside " + real_dir);
  }
  if (io::PathExists(*key_path)) return engine::LoadMasterKeyFile(io::SystemEnv(), *key_path);
  if (io::PathExists(data_dir + "/tenants")) {
    return Status::InvalidArgument("the data directory " + data_dir + " holds tenants but its key " + *key_path +
                                   " is missing (use --key-file or key_file)");
  }
  engine::Key k;
  BV_RETURN_IF_ERROR(engine::CreateMasterKeyFile(io::SystemEnv(), *key_path, &k));
  *created = true;
  return k;
}

Server::Server(ServerOptions opts) : opts_(std::move(opts)), pool_(engine::ThreadPool::DefaultThreads()) {}

Result<std::unique_ptr<Server>> Server::Start(ServerOptions opts) {
  std::unique_ptr<Server> s(new Server(std::move(opts)));
  const ServerConfig& c = s->opts_.config;
  // Listeners first: a refused address is said before anything is created.
  BV_RETURN_IF_ERROR(s->OpenListeners(c));
  std::string key_path;
  bool created = false;
  BV_ASSIGN_OR_RETURN(s->appliance_key_, LoadOrCreateApplianceKey(c.data_dir, c.key_file, &key_path, &created));
  spdlog::info("{} appliance key {}", created ? "created" : "loaded", key_path);
  BV_RETURN_IF_ERROR(s->StartMemoryBudget(c));
  BV_RETURN_IF_ERROR(s->OpenTenants(c));
  s->settings_ = c;
  if (::pipe2(s->wake_, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
  s->accept_thread_ = std::thread([p = s.get()] { p->AcceptLoop(); });
  return s;
}

Status Server::StartMemoryBudget(const ServerConfig& c) {
  constexpr uint64_t kMiB = 1 << 20;
  const uint64_t budget = uint64_t{c.memory_budget_mib} * kMiB;
  const uint64_t fixed = c.max_connections * kConnectionMemory + kPushBatchesMemory;
  if (budget < fixed + kRestoreDraw) {
    return Status::InvalidArgument("memory_budget_mib = " + std::to_string(c.memory_budget_mib) + " is too small: " +
                                   std::to_string(c.max_connections) + " connections and the pushes' batches take " +
                                   std::to_string((fixed + kMiB - 1) / kMiB) + " MiB, and one restore " +
                                   std::to_string(kRestoreDraw / kMiB) + " MiB more");
  }
  // A quarter stays for pushes (as long as one restore still fits beside it).
  const uint64_t sessions = budget - fixed;
  const uint64_t reads_max = std::max(kRestoreDraw, sessions - sessions / 4);
  memory_ = std::make_unique<MemoryBudget>(sessions, reads_max, [this] { ReleaseMemory(); });
  spdlog::info("memory budget {} MiB: {} MiB for sessions after {} MiB set aside, of which restores and verifies "
               "may hold {} MiB", c.memory_budget_mib, sessions / kMiB, fixed / kMiB, reads_max / kMiB);
  return Status::Ok();
}

void Server::ReleaseMemory() {
  if (!opts_.release_memory) return;
  pool_.RunOnEveryWorker(opts_.release_memory);
  opts_.release_memory();
}

Status Server::OpenListeners(const ServerConfig& c) {
  for (const std::string& a : c.listen) {
    BV_ASSIGN_OR_RETURN(auto l, io::Listener::Open(a));
    if (!l->local() && !c.allow_plain_remote) {
      return Status::InvalidArgument("listen " + a + ": plain TCP reachable from other hosts would carry tokens and "
                                     "dumps in clear; serve it with listen_tls (--listen-tls), or set "
                                     "allow_plain_remote = true");
    }
    listeners_.push_back(std::move(l));
    listener_tls_.push_back(false);
  }
  if (c.listen_tls.empty()) return Status::Ok();
  BV_ASSIGN_OR_RETURN(TlsIdentity id, LoadOrCreateTlsIdentity(c));
  BV_ASSIGN_OR_RETURN(tls_, io::TlsContext::ForServer(id.cert_path, id.key_path));
  spdlog::info("TLS certificate {} ({}), SHA-256 fingerprint {}", id.cert_path,
               id.created ? "created" : "loaded", id.fingerprint);
  tls_identity_ = std::move(id);
  for (const std::string& a : c.listen_tls) {
    if (a.rfind("unix:", 0) == 0) return Status::InvalidArgument("listen_tls " + a + ": TLS is for TCP addresses");
    BV_ASSIGN_OR_RETURN(auto l, io::Listener::Open(a));
    listeners_.push_back(std::move(l));
    listener_tls_.push_back(true);
  }
  return Status::Ok();
}

Status Server::OpenTenants(const ServerConfig& config) {
  std::map<std::string, std::shared_ptr<Tenant>> next;
  {
    std::lock_guard lock(mu_);
    next = tenants_;
  }
  std::set<std::string> named;
  for (const TenantConfig& tc : config.tenants) {
    named.insert(tc.name);
    if (auto it = next.find(tc.name); it != next.end()) {
      it->second->Reconfigure(tc);
      if (Status s = ConfigureJobs(this, it->second.get(), tc, config.data_dir); !s.ok()) {
        return Status::InvalidArgument("tenant " + tc.name + ": jobs: " + s.ToString());
      }
      continue;
    }
    auto t = Tenant::Open(config.data_dir, tc, appliance_key_, opts_.backend);
    if (!t.ok()) return Status::InvalidArgument("tenant " + tc.name + ": " + t.status().ToString());
    spdlog::info("tenant {} open: {} tokens, quota {} bytes, {} sessions at most", tc.name, tc.tokens.size(),
                 tc.quota_bytes, tc.max_sessions);
    std::shared_ptr<Tenant> opened(std::move(t).value());
    if (Status s = ConfigureJobs(this, opened.get(), tc, config.data_dir); !s.ok()) {
      return Status::InvalidArgument("tenant " + tc.name + ": jobs: " + s.ToString());
    }
    next.emplace(tc.name, std::move(opened));
  }
  for (auto& [name, t] : next) {
    if (!named.count(name) && !t->retired()) {
      t->Retire();
      (void)ConfigureJobs(this, t.get(), t->config(), config.data_dir);  // its jobs are no longer scheduled
      spdlog::info("tenant {} removed from the configuration: no new logins", name);
    }
  }
  memory_->SetTenantCount(config.tenants.size());
  std::lock_guard lock(mu_);
  tenants_ = std::move(next);
  return Status::Ok();
}

std::vector<std::string> Server::addresses() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < listeners_.size(); i++) {
    out.push_back((listener_tls_[i] ? "tls://" : "") + listeners_[i]->address());
  }
  return out;
}

std::shared_ptr<Tenant> Server::FindTenant(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = tenants_.find(name);
  if (it == tenants_.end() || it->second->retired()) return nullptr;
  return it->second;
}

ServerConfig Server::settings() const {
  std::lock_guard lock(mu_);
  return settings_;
}

uint64_t Server::DiskReserve() const {
  std::optional<uint32_t> mib;
  std::string data_dir;
  {
    std::lock_guard lock(mu_);
    mib = settings_.disk_reserve_mib;
    data_dir = settings_.data_dir;
  }
  if (mib) return uint64_t{*mib} << 20;
  // On a small file system a twentieth of it, as ext4 keeps back 5% for root.
  auto space = io::SpaceOf(data_dir);
  const uint64_t fallback = uint64_t{kDiskReserveDefaultMib} << 20;
  return space.ok() ? std::min(fallback, space->total / 20) : fallback;
}

void Server::AcceptLoop() {
  std::vector<pollfd> fds;
  for (const auto& l : listeners_) fds.push_back(pollfd{l->fd(), POLLIN, 0});
  fds.push_back(pollfd{wake_[0], POLLIN, 0});
  for (;;) {
    for (auto& p : fds) p.revents = 0;
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("poll on the listeners: {}", std::strerror(errno));
      return;
    }
    if (fds.back().revents != 0) return;  // stopping
    for (size_t i = 0; i + 1 < fds.size(); i++) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      auto sock = listeners_[i]->Accept();
      if (!sock.ok()) {
        spdlog::warn("{}", sock.status().ToString());
        if (sock.status().message().find("Too many open files") != std::string::npos) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        continue;
      }
      Serve(std::move(sock).value(), listener_tls_[i]);
    }
  }
}

void Server::Serve(std::unique_ptr<io::Socket> socket, bool tls) {
  const ServerConfig c = settings();
  const AdmissionLimits limits{c.max_connections, c.max_unauthenticated};
  auto ticket = admission_.Admit(PeerAddress(socket->peer()), socket.get(), limits);
  if (!ticket.ok()) {
    // The connection closes after this line; a peer that cannot take it is gone already. A TLS
    // peer only sees the close: no handshake is spent on a refusal.
    if (!tls) (void)socket->WriteAll("ERR busy " + ticket.status().message() + "\n", 1000);
    if (std::string more; outsider_log_.Allow(&more)) {
      spdlog::warn("peer={} refused: {}{}", socket->peer(), ticket.status().message(), more);
    }
    return;
  }
  {
    std::lock_guard lock(mu_);
    sessions_++;
    live_.insert(socket.get());
  }
  std::thread([this, tls, sock = std::move(socket), t = std::move(ticket).value()]() mutable {
    RunConnection(sock.get(), tls, t.get());
    t.reset();
    std::lock_guard lock(mu_);
    live_.erase(sock.get());
    sock.reset();  // closed under the lock, so Stop never interrupts a closed descriptor
    sessions_--;
    idle_cv_.notify_all();
  }).detach();
}

// A TLS connection's handshake has the login's time limit: a peer that connects and says nothing
// holds its slot no longer than one that never sends AUTH.
void Server::RunConnection(io::Socket* socket, bool tls, Admission::Ticket* ticket) {
  if (tls) {
    const int login_ms = static_cast<int>(settings().login_timeout_s) * 1000;
    if (Status s = socket->StartTls(tls_, "", login_ms); !s.ok()) {
      spdlog::info("peer={} {}", socket->peer(), s.message());
      return;
    }
    spdlog::debug("peer={} TLS {} established{}", socket->peer(), socket->tls()->version(),
                  socket->tls()->kernel_send() ? ", kernel TLS sends" : "");
  }
  RunSession(this, socket, ticket);
  // A session that ended its stream with a reset (a restore that failed part way) must not end
  // it in order now.
  if (!tls || socket->aborted()) return;
  // The session's end is a clean end of stream for the peer (close_notify) when the session has
  // not said so already. What the peer still sends (its own close_notify) is read before the
  // socket closes: closing with unread bytes resets the connection, and a reset destroys what
  // the peer has not read yet, the end of a restore among it.
  (void)socket->ShutdownWrite();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTlsLingerMs);
  char drop[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    auto got = socket->Read(drop, sizeof drop, kTlsLingerSliceMs);
    if (got.ok() && *got == 0) return;
    if (!got.ok() && got.status().code() != Status::Code::kTimedOut) return;
  }
}

Status Server::Reload() {
  if (opts_.config_path.empty()) {
    spdlog::info("SIGHUP: no configuration file to reload (embedded default)");
    return Status::Ok();
  }
  auto c = LoadConfig(opts_.config_path);
  if (!c.ok()) {
    spdlog::error("SIGHUP: configuration not reloaded, the old one stays: {}", c.status().message());
    return c.status();
  }
  ServerConfig next = std::move(c).value();
  next.data_dir = opts_.config.data_dir;  // the data directory and listeners are fixed until restart
  next.listen = opts_.config.listen;
  next.listen_tls = opts_.config.listen_tls;
  next.tls_cert = opts_.config.tls_cert;
  next.tls_key = opts_.config.tls_key;
  next.allow_plain_remote = opts_.config.allow_plain_remote;
  next.key_file = opts_.config.key_file;
  BV_RETURN_IF_ERROR(OpenTenants(next));
  {
    std::lock_guard lock(mu_);
    settings_ = next;
  }
  spdlog::info("SIGHUP: configuration reloaded, {} tenants", next.tenants.size());
  return Status::Ok();
}

Status Server::Stop() {
  if (stopped_) return Status::Ok();
  stopped_ = true;
  stopping_ = true;
  const char b = 'x';
  (void)!::write(wake_[1], &b, 1);
  if (accept_thread_.joinable()) accept_thread_.join();  // not started when Start failed
  listeners_.clear();
  const auto grace = std::chrono::seconds(settings().grace_s);
  std::unique_lock lock(mu_);
  if (sessions_ > 0) spdlog::info("stopping: {} sessions get {} s to finish", sessions_, grace.count());
  if (!idle_cv_.wait_for(lock, grace, [this] { return sessions_ == 0; })) {
    spdlog::warn("stopping: aborting {} sessions still running after the grace period", sessions_);
    for (io::Socket* s : live_) s->Interrupt();
    idle_cv_.wait(lock, [this] { return sessions_ == 0; });
  }
  Status result;
  for (auto& [name, t] : tenants_) {
    Status s = t->Close();
    if (!s.ok()) {
      spdlog::error("closing tenant {}: {}", name, s.ToString());
      if (result.ok()) result = s;
    }
  }
  tenants_.clear();
  return result;
}

Server::~Server() {
  if (!stopped_) (void)Stop();
  if (wake_[0] >= 0) ::close(wake_[0]);
  if (wake_[1] >= 0) ::close(wake_[1]);
}

}  // namespace bv::server
