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
import signal
import subprocess
import sys
import tempfile
import threading
import time


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
            root = os.path.join(work, "bvd%d" % i)
            env = dict(os.environ, BV_KEY_DIR=os.path.join(root, "keys"))
            os.makedirs(root)
            log = open(os.path.join(root, "log"), "wb")
            proc = subprocess.Popen([os.path.join(args.build, "bvd"), "--data", os.path.join(root, "data"),
                                     "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=log, env=env)
            port = None
            for line in proc.stdout:
                line = line.decode()
                if line.startswith("bvd: listening on 127.0.0.1:"):
                    port = int(line.rsplit(":", 1)[1])
                if line.startswith("bvd: ready"):
                    break
            token = open(os.path.join(root, "data", "tokens", "default")).read().strip()
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
            proc.send_signal(signal.SIGTERM)
            proc.wait()
            proc.stdout.close()
            log.close()
            rates = sorted(size / s / 1e6 for s in secs)
            print("| %d | %s | %.2f | %.0f |" % (n, ", ".join("%.0f" % r for r in rates), rates[0] / rates[-1],
                                                  n * size / total / 1e6))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
