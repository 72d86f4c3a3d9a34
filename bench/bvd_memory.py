#!/usr/bin/env python3
"""Peak resident memory of bvd under load: one bvd; N dumps (each its own, nothing dedups) pushed
at once with nc, then restored at once into `wc -c`. Prints bvd's VmHWM at start, after the
pushes and after the restores.

    python3 bench/bvd_memory.py [--build build] [--pushes 4] [--mib 256]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bvd_process import BvdProcess  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--pushes", type=int, default=4)
    ap.add_argument("--mib", type=int, default=256)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bv-memory-")
    try:
        dumps = []
        for i in range(args.pushes):
            path = os.path.join(work, "dump%d.sql" % i)
            with open(path, "wb") as f:
                subprocess.run([os.path.join(args.build, "bench", "bv-dumpgen"), "--mib", str(args.mib),
                                "--seed", str(100 + i)], stdout=f, check=True)
            dumps.append(path)
        bvd = BvdProcess(args.build, os.path.join(work, "bvd"))
        try:
            start = bvd.peak_rss_kib() / 1024
            procs = []
            for i, path in enumerate(dumps):
                cmd = "{ printf 'AUTH default %s\\nPUT mem/db%d\\n'; cat %s; } | nc -N 127.0.0.1 %d" % (
                    bvd.token, i, path, bvd.port)
                procs.append(subprocess.Popen(["bash", "-c", cmd], stdout=subprocess.PIPE))
            for p in procs:
                out = p.communicate()[0]
                if not out.startswith(b"OK snapshot="):
                    raise SystemExit("push failed: %r" % out[:200])
            pushed = bvd.peak_rss_kib() / 1024
            procs = []
            for i in range(len(dumps)):
                cmd = "printf 'AUTH default %s\\nGET mem/db%d\\n' | nc 127.0.0.1 %d | wc -c" % (bvd.token, i, bvd.port)
                procs.append(subprocess.Popen(["bash", "-c", cmd], stdout=subprocess.PIPE))
            for p, path in zip(procs, dumps):
                n = int(p.communicate()[0])
                if n != os.path.getsize(path):
                    raise SystemExit("restore of %s gave %d bytes" % (path, n))
            restored = bvd.peak_rss_kib() / 1024
        finally:
            bvd.stop()
        print("| bvd VmHWM at start | after %d pushes at once | after %d restores at once |" % (args.pushes, args.pushes))
        print("| --- | --- | --- |")
        print("| %.0f MiB | %.0f MiB | %.0f MiB |" % (start, pushed, restored))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
