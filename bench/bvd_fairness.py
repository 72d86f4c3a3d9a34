#!/usr/bin/env python3
"""Many pushes at once into one bvd: do they share the cores fairly, and does the total keep the
machine busy? For each count of concurrent pushes, every push sends its own dump of the same size
(different seeds, so nothing dedups) with nc; prints each push's MB/s, the slowest against the
fastest, and the aggregate MB/s against a single push.

    python3 bench/bvd_fairness.py [--build build] [--mib 128] [--counts 1,2,4,8]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from bvd_process import BvdProcess


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--mib", type=int, default=128)
    ap.add_argument("--counts", default="1,2,4,8")
    args = ap.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    work = tempfile.mkdtemp(prefix="bv-fair-")
    dumps = []
    for k in range(max(counts)):
        path = os.path.join(work, "d%d.sql" % k)
        with open(path, "wb") as f:
            subprocess.run([os.path.join(args.build, "bench", "bv-dumpgen"), "--mib", str(args.mib), "--seed",
                            str(1000 + k)], stdout=f, check=True)
        dumps.append(path)
    size = os.path.getsize(dumps[0])
    print("| pushes at once | each push MB/s | slowest / fastest | aggregate MB/s |")
    print("| --- | --- | --- | --- |")
    try:
        for i, n in enumerate(counts):
            bvd = BvdProcess(args.build, os.path.join(work, "bvd%d" % i))
            port, token = bvd.port, bvd.token
            secs = [0.0] * n

            def push(k):
                nc = subprocess.Popen(["nc", "-N", "127.0.0.1", str(port)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE)
                t0 = time.perf_counter()
                nc.stdin.write(("AUTH default %s\nPUT fair/%d size=%d\n" % (token, k, size)).encode())
                with open(dumps[k], "rb") as f:
                    shutil.copyfileobj(f, nc.stdin, 1 << 20)
                nc.stdin.close()
                reply = nc.stdout.read()
                nc.wait()
                secs[k] = time.perf_counter() - t0
                if not reply.startswith(b"OK "):
                    raise SystemExit("push %d failed: %s" % (k, reply))

            t0 = time.perf_counter()
            threads = [threading.Thread(target=push, args=(k,)) for k in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            total = time.perf_counter() - t0
            bvd.stop()
            rates = sorted(size / s / 1e6 for s in secs)
            print("| %d | %s | %.2f | %.0f |" % (n, ", ".join("%.0f" % r for r in rates), rates[0] / rates[-1],
                                                  n * size / total / 1e6))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
