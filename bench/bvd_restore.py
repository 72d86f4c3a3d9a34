#!/usr/bin/env python3
"""Restore through bvd over loopback, side by side: for each build given, one bvd on its own data
directory holding the same pushed dump; then rounds of restores, the builds and the ways taking
turns within each round, so that the machine's noise falls on all of them alike. Prints the
median MB/s of each way for each build.

Ways: `nc` (GET, decoded by bvd, read by nc into a pipe), `bvtool` (bvtool get, decoded by bvd)
and `blocks` (bvtool get --blocks: bvd splices the stored blocks, bvtool decodes; skipped for a
build without it).

    python3 bench/bvd_restore.py --build build [--build other-build] [--mib 512] [--rounds 5] [--hard]
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from bvd_process import BvdProcess, generate_dump, side_by_side_args


def timed(cmd, stdin=None):
    """Runs cmd with its output into a pipe that `wc -c` drains; returns (seconds, bytes)."""
    cat = subprocess.Popen(["wc", "-c"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    t0 = time.perf_counter()
    subprocess.run(cmd, stdin=stdin, stdout=cat.stdin, check=True)
    secs = time.perf_counter() - t0
    cat.stdin.close()
    n = int(cat.stdout.read())
    cat.wait()
    return secs, n


def main():
    args = side_by_side_args(__doc__, 512)
    work = tempfile.mkdtemp(prefix="bv-bvd-restore-")
    dump = os.path.join(work, "dump.sql")
    size = generate_dump(args.build[0], args.mib, args.hard, dump)
    servers = []
    try:
        for i, build in enumerate(args.build):
            bvd = BvdProcess(build, os.path.join(work, "b%d" % i))
            port, token = bvd.port, bvd.token
            nc = subprocess.Popen(["nc", "-N", "127.0.0.1", str(port)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            nc.stdin.write(("AUTH default %s\nPUT bench/db size=%d\n" % (token, size)).encode())
            with open(dump, "rb") as f:
                shutil.copyfileobj(f, nc.stdin, 1 << 20)
            nc.stdin.close()
            reply = nc.stdout.read()
            nc.wait()
            if not reply.startswith(b"OK "):
                raise SystemExit("push to %s failed: %s" % (build, reply))
            key = bvd.key_file
            bvtool = os.path.join(build, "bvtool")
            has_blocks = b"--blocks" in subprocess.run([bvtool, "get", "--help"], capture_output=True).stdout
            remote = ["--server", "127.0.0.1:%d" % port, "--token-file", bvd.token_file]
            ways = {
                "nc": (["nc", "127.0.0.1", str(port)], ("AUTH default %s\nGET bench/db\n" % token).encode()),
                "bvtool": ([bvtool, "get", "bench/db"] + remote, None),
            }
            if has_blocks:
                ways["blocks"] = ([bvtool, "get", "bench/db", "--blocks", "--key-file", key] + remote, None)
            servers.append((build, bvd, ways))
        results = {(b, w): [] for b, _, ways in servers for w in ways}
        for _ in range(args.rounds):
            for build, _, ways in servers:
                for way, (cmd, stdin) in ways.items():
                    if stdin is not None:
                        r, w = os.pipe()
                        os.write(w, stdin)
                        os.close(w)
                        secs, n = timed(cmd, stdin=r)
                        os.close(r)
                    else:
                        secs, n = timed(cmd)
                    if n != size:
                        raise SystemExit("%s %s restored %d of %d bytes" % (build, way, n, size))
                    results[(build, way)].append(size / secs / 1e6)
        print("input: %.0f MB (%s), %d rounds, median MB/s (min-max)" %
              (size / 1e6, "hard" if args.hard else "compressible", args.rounds))
        print("| build | way | restore MB/s |")
        print("| --- | --- | --- |")
        for (build, way), v in results.items():
            print("| %s | %s | %.0f (%.0f-%.0f) |" % (build, way, statistics.median(v), min(v), max(v)))
    finally:
        for _, bvd, _ in servers:
            bvd.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
