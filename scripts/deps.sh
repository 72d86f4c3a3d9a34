#!/usr/bin/env bash
# Installs the Debian 12 packages BV builds and tests with, when any is missing.
set -euo pipefail
packages=(
  build-essential pkg-config meson ninja-build cmake clang libclang-rt-14-dev
  liburing-dev libxxhash-dev libzstd-dev libsodium-dev librocksdb-dev libssl-dev libmimalloc-dev
  libgtest-dev libgmock-dev libbenchmark-dev librapidcheck-dev
  libcli11-dev libtomlplusplus-dev libspdlog-dev nlohmann-json3-dev libhowardhinnant-date-dev tzdata
  netcat-openbsd socat openssl zstd python3 python3-croniter postgresql
  restic borgbackup
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
fi
