#include "engine/keys.h"

#include <sodium.h>

#include <cstdlib>
#include <cstring>

#include "io/env.h"

namespace bv::engine {

namespace {

constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "BVkeys01";
constexpr char kKeyFileTag[] = "bv-master-key-v1 ";

enum Subkey : uint64_t { kIdKey = 1, kDataKey = 2, kGearSeed = 3, kHashKey = 4, kCheck = 5 };

Key Derive(const Key& master, uint64_t id) {
  Key k;
  BV_ASSERT(crypto_kdf_derive_from_key(k.data(), k.size(), id, kKdfContext, master.data()) == 0);
  return k;
}

}  // namespace

Key RandomKey() {
  BV_ASSERT(sodium_init() >= 0);
  Key k;
  randombytes_buf(k.data(), k.size());
  return k;
}

VolumeKeys DeriveKeys(const Key& master, bool encrypted) {
  BV_ASSERT(sodium_init() >= 0);
  VolumeKeys k;
  k.id_key = Derive(master, kIdKey);
  k.data_key = Derive(master, kDataKey);
  k.gear_seed = Derive(master, kGearSeed);
  k.hash_key = Derive(master, kHashKey);
  const Key check_key = Derive(master, kCheck);
  static constexpr char kMsg[] = "BV key check";
  crypto_generichash(k.check.data(), k.check.size(), reinterpret_cast<const uint8_t*>(kMsg),
                     sizeof kMsg - 1, check_key.data(), check_key.size());
  k.encrypted = encrypted;
  return k;
}

Status CreateMasterKeyFile(io::Env* env, const std::string& path, Key* out) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash != std::string::npos && slash > 0 ? path.substr(0, slash) : "";
  if (!dir.empty()) BV_RETURN_IF_ERROR(env->MakeDirs(dir, 0700));
  *out = RandomKey();
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, out->data(), out->size());
  const std::string text = std::string(kKeyFileTag) + hex + "\n";
  sodium_memzero(hex, sizeof hex);
  BV_RETURN_IF_ERROR(env->CreateFileExclusive(path, text, 0600));
  return dir.empty() ? Status::Ok() : env->SyncDir(dir);
}

Result<Key> LoadMasterKeyFile(io::Env* env, const std::string& path) {
  BV_ASSIGN_OR_RETURN(std::string text, env->ReadSmallFile(path, 4096));
  const size_t tag = std::strlen(kKeyFileTag);
  if (text.size() < tag + 64 || text.compare(0, tag, kKeyFileTag) != 0) {
    return Status::InvalidArgument("key file " + path + ": not a BV master key file");
  }
  Key k;
  size_t len = 0;
  if (sodium_hex2bin(k.data(), k.size(), text.data() + tag, 64, nullptr, &len, nullptr) != 0 ||
      len != k.size()) {
    return Status::InvalidArgument("key file " + path + ": key is not 64 hex digits");
  }
  return k;
}

std::string DefaultKeyDir() {
  std::string dir;
  if (const char* d = std::getenv("BV_KEY_DIR"); d != nullptr && *d != '\0') {
    dir = d;
  } else if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') {
    dir = std::string(h) + "/.config/bv/keys";
  } else {
    dir = "/etc/bv/keys";
  }
  return dir;
}

std::string DefaultKeyPath(const format::VolumeParams& p) { return DefaultKeyDir() + "/" + p.UuidString() + ".key"; }

std::string KeyPath(const std::string& given, const format::VolumeParams& p) {
  if (!given.empty()) return given;
  const char* env = std::getenv("BV_KEY_FILE");
  return env != nullptr && *env != '\0' ? env : DefaultKeyPath(p);
}

Key DeriveTenantKey(const Key& appliance_master, const std::string& tenant) {
  BV_ASSERT(sodium_init() >= 0);
  const std::string msg = "BV tenant " + tenant;
  Key k;
  crypto_generichash(k.data(), k.size(), reinterpret_cast<const uint8_t*>(msg.data()), msg.size(),
                     appliance_master.data(), appliance_master.size());
  return k;
}

}  // namespace bv::engine
