#!/usr/bin/env bash
# The whole test suite: dependencies, the fuzz targets for a bounded time, the ASan+UBSan build of
# every test but the suite 'long' (on io_uring; the pread/pwrite backend's own code through the io
# tests), the ThreadSanitizer build of the server tests, then the regular -Werror build of every
# test on both I/O backends. Ends in meson test's summary.
#   BV_FUZZ_SECONDS (default 15) per fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

jobs=$(nproc)
# Sanitizer builds at -O1 with line tables only: half the compile time of -O2 -g, and their
# reports still name file and line.
sanitizer_setup=(--wrap-mode=nodownload --buildtype=plain -Doptimization=1 -Dcpp_args=-g1 -Db_lundef=false)
fuzz_seconds=${BV_FUZZ_SECONDS:-15}

echo "== fuzz targets, ${fuzz_seconds}s each"
[ -d build-fuzz ] || CC=clang CXX=clang++ meson setup build-fuzz -Dfuzzing=true --wrap-mode=nodownload
ninja -C build-fuzz
for target in block segment_scan snapshot recipe request index retention retired run_record verify_cursor; do
  echo "-- ${target}_fuzz"
  work=$(mktemp -d)
  # Findings go to build-fuzz/; the seed corpus stays as committed.
  build-fuzz/fuzz/${target}_fuzz -max_total_time="$fuzz_seconds" -print_final_stats=0 \
    -artifact_prefix=build-fuzz/ "$work" "fuzz/corpus/$target" 2>&1 | grep -E "^Done|ERROR|SUMMARY" || true
  rm -rf "$work"
  # Any one kind of finding fails the run (ls of all three succeeds only when each kind exists).
  found=$(ls build-fuzz/crash-* build-fuzz/leak-* build-fuzz/timeout-* 2>/dev/null || true)
  if [ -n "$found" ]; then
    echo "fuzz target $target found a failing input:"; echo "$found"
    exit 1
  fi
done

echo "== ASan+UBSan build"
[ -d build-asan ] || meson setup build-asan "${sanitizer_setup[@]}" -Db_sanitize=address,undefined
ninja -C build-asan
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
meson test -C build-asan --no-rebuild --num-processes "$jobs" --print-errorlogs io_env_sync io_socket_sync
meson test -C build-asan --no-rebuild --num-processes "$jobs" --print-errorlogs --suite uring --no-suite long
unset ASAN_OPTIONS UBSAN_OPTIONS

echo "== ThreadSanitizer build: the server, concurrent-put, jobs and verify-share tests (io_uring backend)"
[ -d build-tsan ] || meson setup build-tsan "${sanitizer_setup[@]}" -Db_sanitize=thread
ninja -C build-tsan bvd bvtool tests/test_server_request tests/test_engine_concurrent_put tests/test_engine_put_session \
  tests/test_jobs_backup_run tests/test_jobs_run_support tests/test_engine_verify_share
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp" \
  meson test -C build-tsan --no-rebuild --num-processes "$jobs" --print-errorlogs \
  server_request_uring server_bvd_uring engine_concurrent_put_uring engine_put_session_uring \
  jobs_backup_run_uring jobs_run_support_uring engine_verify_share_uring server_jobs server_maintenance_jobs

echo "== bench harness smoke run"
[ -d build ] || meson setup build --wrap-mode=nodownload
ninja -C build
python3 bench/compare.py --smoke --build build
python3 bench/bvd_push.py --build build --mib 8 --rounds 1
python3 bench/bvd_job.py --build build --mib 8 --rounds 1

echo "== -Werror build, both I/O backends"
meson test -C build --num-processes "$jobs" --print-errorlogs
