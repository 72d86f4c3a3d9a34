#!/usr/bin/env bash
# Installs what is missing, builds, and runs a backup and restore on the embedded default: a
# volume in ./data of the checkout, its master key in ~/.config/bv/keys/. Then says how to use it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
[ -d build ] || meson setup build --wrap-mode=nodownload
ninja -C build bvtool bench/bv-dumpgen

bvtool=build/bvtool
data=${BV_DATA:-data}
if [ ! -f "$data/VOLUME" ]; then
  "$bvtool" init "$data"
fi
demo=$(mktemp -d)
trap 'rm -rf "$demo"' EXIT
echo "== backing up a generated 64 MiB pg_dump-like demo dump as source demo/shop"
build/bench/bv-dumpgen --mib 64 > "$demo/shop.sql"
id=$("$bvtool" put "$data" demo/shop "$demo/shop.sql" --label quickstart)
echo "snapshot $id is durable"
"$bvtool" ls "$data"
echo "== restoring it and comparing byte for byte"
"$bvtool" get "$data" "$id" -o "$demo/restored.sql"
cmp "$demo/shop.sql" "$demo/restored.sql" && echo "restored $(stat -c %s "$demo/restored.sql") bytes: identical"
"$bvtool" verify "$data" "$id"
cat <<TXT

BV is ready: volume $data, built tools in build/.
  back up:   pg_dump mydb | $bvtool put $data pg/mydb
  list:      $bvtool ls $data
  restore:   $bvtool get $data pg/mydb | psql mydb            (newest)
             $bvtool get $data pg/mydb@2026-11-01T03:00 -o mydb.sql   (as of a time)
  check:     $bvtool verify $data      $bvtool fsck $data
TXT
