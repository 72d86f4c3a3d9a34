// The master key file and the keys derived from it. The master key lives outside the volume
// directory; every working key is derived with crypto_kdf so that no two purposes share a key.
#pragma once

#include <array>
#include <string>

#include "base/status.h"
#include "format/segment_format.h"
#include "io/env.h"

namespace bv::engine {

using Key = std::array<uint8_t, 32>;

struct VolumeKeys {
  Key id_key{};     // keyed chunk ids
  Key data_key{};   // XChaCha20-Poly1305 for block payloads
  Key gear_seed{};  // the chunker's gear table
  Key hash_key{};   // the whole-stream hash secret
  Key check{};      // proves the master key is the volume's
  bool encrypted = false;
};

// Derives every working key from a 32-byte master key.
VolumeKeys DeriveKeys(const Key& master, bool encrypted);

// "bv-master-key-v1 <64 hex digits>\n", mode 0600. Refuses to overwrite an existing file.
// Through `env`, which a test may make fail (io::SystemEnv() for the process's own files).
Status CreateMasterKeyFile(io::Env* env, const std::string& path, Key* out);
Result<Key> LoadMasterKeyFile(io::Env* env, const std::string& path);
// $BV_KEY_DIR, else $HOME/.config/bv/keys, else /etc/bv/keys.
std::string DefaultKeyDir();
// DefaultKeyDir()/<uuid>.key.
std::string DefaultKeyPath(const format::VolumeParams& p);
// The key file of a volume: `given` (--key-file), else $BV_KEY_FILE, else DefaultKeyPath; the
// same for the volume's creation and every opening.
std::string KeyPath(const std::string& given, const format::VolumeParams& p);

// A server holds one master key and a volume per tenant; each tenant's volume master key is
// derived from it (keyed BLAKE2b-256 over "BV tenant " + name), so no two tenants share a key.
Key DeriveTenantKey(const Key& appliance_master, const std::string& tenant);

Key RandomKey();

}  // namespace bv::engine
