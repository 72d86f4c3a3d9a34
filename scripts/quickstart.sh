#!/usr/bin/env bash
# Installs what is missing, builds, and starts bvd on its embedded default: data in ./data of the
# checkout, one tenant "default" whose token is created in ./data/tokens/default, listening on
# 127.0.0.1:7780 (BV_LISTEN to change). Pushes and restores a demo dump with nc, prints how to push
# and restore your own, and keeps serving until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
[ -d build ] || meson setup build --wrap-mode=nodownload
ninja -C build bvd bvtool bench/bv-dumpgen

data=${BV_DATA:-data}
listen=${BV_LISTEN:-127.0.0.1:7780}
host=${listen%:*}
port=${listen##*:}
mkdir -p "$data"
build/bvd --data "$data" --listen "$listen" > "$data/bvd.out" 2>> "$data/bvd.log" &
bvd=$!
trap 'kill -TERM $bvd 2>/dev/null; wait $bvd' INT TERM
for _ in $(seq 100); do
  grep -q '^bvd: ready' "$data/bvd.out" 2>/dev/null && break
  kill -0 $bvd 2>/dev/null || { echo "bvd did not start:"; tail -5 "$data/bvd.log"; exit 1; }
  sleep 0.1
done
token=$(cat "$data/tokens/default")

demo=$(mktemp -d)
echo "== pushing a generated 64 MiB pg_dump-like demo dump as source demo/shop, with nc"
build/bench/bv-dumpgen --mib 64 > "$demo/shop.sql"
{ printf 'AUTH default %s\nPUT demo/shop label=quickstart\n' "$token"; cat "$demo/shop.sql"; } | nc -N "$host" "$port"
echo "== restoring it with nc and comparing byte for byte"
printf 'AUTH default %s\nGET demo/shop\n' "$token" | nc "$host" "$port" > "$demo/restored.sql"
cmp "$demo/shop.sql" "$demo/restored.sql" && echo "restored $(stat -c %s "$demo/restored.sql") bytes: identical"
rm -rf "$demo"

cat <<TXT

bvd is serving $listen (pid $bvd; log in $data/bvd.log). The token of tenant "default" is in $data/tokens/default.
  push:     { printf 'AUTH default %s\nPUT pg/mydb\n' "\$(cat $data/tokens/default)"; pg_dump mydb; } | nc -N $host $port
  list:     printf 'AUTH default %s\nLIST\n' "\$(cat $data/tokens/default)" | nc -N $host $port
  restore:  printf 'AUTH default %s\nGET pg/mydb\n' "\$(cat $data/tokens/default)" | nc $host $port | psql mydb
  as of:    ... GET pg/mydb@2026-11-01T03:00 ...        the protocol: docs/protocol.md
Ctrl-C stops bvd (it finishes running pushes first).
TXT
wait $bvd
