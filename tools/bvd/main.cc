// bvd: the backup appliance's daemon.
// `bvd --data DIR [--listen HOST:PORT]... [--listen-tls HOST:PORT]... [--config FILE]`.
// Without a configuration file it serves the embedded default: one tenant, "default", whose
// token is created on first start in DIR/tokens/default.
#include <CLI/CLI.hpp>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdio>
#ifdef BV_MIMALLOC
#include <mimalloc.h>
#else
#include <malloc.h>
#endif

#include "io/env.h"
#include "server/server.h"

namespace {

using bv::Result;
using bv::Status;
namespace server = bv::server;

struct Flags {
  std::string data_dir, config_path, key_file, io = "uring", log_level = "info";
  std::vector<std::string> listen, listen_tls;
};

// DIR/tokens/default: created once, mode 0600; its hash is what the server keeps.
Result<std::string> DefaultTenantToken(const std::string& data_dir, bool* created) {
  const std::string dir = data_dir + "/tokens";
  const std::string path = dir + "/default";
  *created = false;
  if (!bv::io::PathExists(path)) {
    BV_RETURN_IF_ERROR(bv::io::MakeDirs(dir, 0700));
    BV_RETURN_IF_ERROR(bv::io::WriteFileAtomic(path, server::NewToken() + "\n"));
    if (::chmod(path.c_str(), 0600) != 0) return Status::FromErrno("chmod " + path, errno);
    *created = true;
  }
  BV_ASSIGN_OR_RETURN(std::string token, bv::io::ReadSmallFile(path, 4096));
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  return token;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BV_SANITIZER_ALLOCATOR 1  // the sanitizer's allocator holds the memory, not glibc's
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define BV_SANITIZER_ALLOCATOR 1
#endif
#endif

// Free memory back to the system once no session holds any (docs/protocol.md §10). Under a
// sanitizer glibc's malloc_trim would walk an arena that was never set up: nothing to do there.
void ReleaseMemory() {
#ifdef BV_MIMALLOC
  mi_collect(true);
#elif !defined(BV_SANITIZER_ALLOCATOR)
  malloc_trim(0);
#endif
}

[[noreturn]] void Die(const Status& s) {
  std::fprintf(stderr, "bvd: %s\n", s.message().c_str());
  std::exit(1);
}

// The configuration file's settings (or the embedded default's), with the flags over them.
server::ServerOptions Options(const Flags& f, bool* token_created) {
  server::ServerOptions opts;
  opts.backend = f.io == "sync" ? bv::io::Backend::kSync : bv::io::Backend::kUring;
  opts.release_memory = ReleaseMemory;
  if (!f.config_path.empty()) {
    auto c = server::LoadConfig(f.config_path);
    if (!c.ok()) Die(c.status());
    opts.config = std::move(c).value();
    opts.config_path = f.config_path;
  }
  server::ServerConfig& c = opts.config;
  if (!f.data_dir.empty()) c.data_dir = f.data_dir;
  if (!f.key_file.empty()) c.key_file = f.key_file;
  if (!f.listen.empty()) c.listen = f.listen;
  if (!f.listen_tls.empty()) c.listen_tls = f.listen_tls;
  if (c.data_dir.empty()) Die(Status::InvalidArgument("no data directory: give --data DIR or data_dir in the configuration"));
  if (c.listen.empty() && c.listen_tls.empty()) c.listen.push_back(server::kDefaultListen);
  if (f.config_path.empty()) {
    if (auto s = bv::io::MakeDirs(c.data_dir, 0700); !s.ok()) Die(s);
    auto token = DefaultTenantToken(c.data_dir, token_created);
    if (!token.ok()) Die(token.status());
    server::TenantConfig t;
    t.name = "default";
    t.tokens.push_back(server::TokenConfig{server::TokenHash(*token), server::Role::kAdmin});
    c.tenants.push_back(t);
  }
  return opts;
}

// The embedded default's tenant, and how to push and restore with nc against the first address.
void PrintDefaultTenant(const server::Server& srv, const std::string& data_dir, bool token_created) {
  const std::string tok = data_dir + "/tokens/default";
  std::string addr = srv.addresses().front();
  const bool tls = addr.rfind("tls://", 0) == 0;
  if (tls) addr = addr.substr(6);
  std::string host = addr.substr(0, addr.rfind(':')), port = addr.substr(addr.rfind(':') + 1);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  std::printf("bvd: tenant \"default\", token %s %s\n", token_created ? "created in" : "in", tok.c_str());
  const std::string push_to = tls ? "openssl s_client -quiet -no_ign_eof -connect " + addr : "nc -N " + host + " " + port;
  const std::string get_from = tls ? "openssl s_client -quiet -connect " + addr : "nc " + host + " " + port;
  std::printf("push:    { printf 'AUTH default %%s\\nPUT pg/orders\\n' \"$(cat %s)\"; pg_dump orders; } | %s\n",
              tok.c_str(), push_to.c_str());
  std::printf("restore: printf 'AUTH default %%s\\nGET pg/orders\\n' \"$(cat %s)\" | %s > orders.sql\n", tok.c_str(),
              get_from.c_str());
}

// SIGHUP reloads; SIGTERM or SIGINT stops the server, and the process exits with its outcome.
int ServeUntilStopped(server::Server* srv, const sigset_t& signals) {
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      (void)srv->Reload();
      continue;
    }
    spdlog::info("signal {}: stopping", sig == SIGTERM ? "TERM" : "INT");
    Status s = srv->Stop();
    if (!s.ok()) {
      spdlog::error("stopped with an error: {}", s.ToString());
      return 1;
    }
    spdlog::info("stopped");
    return 0;
  }
}

int Main(int argc, char** argv) {
  CLI::App app{"bvd: the BV backup appliance daemon"};
  Flags f;
  app.add_option("--data", f.data_dir, "data directory (tenant volumes, tokens)");
  app.add_option("--listen", f.listen, "address to serve in plain: HOST:PORT (loopback) or unix:/PATH (repeatable)");
  app.add_option("--listen-tls", f.listen_tls, "address to serve with TLS: HOST:PORT (repeatable)");
  app.add_option("--config", f.config_path, "TOML configuration file");
  app.add_option("--key-file", f.key_file, "the appliance master key (outside the data directory)");
  app.add_option("--io", f.io, "segment I/O: uring or sync")->check(CLI::IsMember({"uring", "sync"}));
  app.add_option("--log-level", f.log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  CLI11_PARSE(app, argc, argv);

  spdlog::set_default_logger(spdlog::stderr_color_mt("bvd"));
  spdlog::set_level(spdlog::level::from_str(f.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");

  bool token_created = false;
  const server::ServerOptions opts = Options(f, &token_created);

  // Signals are taken by sigwait below, never by the threads the server starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto srv = server::Server::Start(opts);
  if (!srv.ok()) Die(srv.status());
  for (const std::string& a : (*srv)->addresses()) std::printf("bvd: listening on %s\n", a.c_str());
  if (const auto& id = (*srv)->tls_identity()) {
    std::printf("bvd: TLS certificate %s (%s), SHA-256 fingerprint %s\n", id->cert_path.c_str(),
                id->created ? "created" : "loaded", id->fingerprint.c_str());
  }
  if (f.config_path.empty()) PrintDefaultTenant(**srv, opts.config.data_dir, token_created);
  std::printf("bvd: ready\n");
  std::fflush(stdout);
  return ServeUntilStopped(srv->get(), signals);
}

}  // namespace

// No start-up failure may end in std::terminate: whatever a library throws becomes one line.
int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bvd: %s\n", e.what());
    return 1;
  }
}
