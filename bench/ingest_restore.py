#!/usr/bin/env python3
"""End-to-end ingest and restore figures for BV, offline (bvtool put/get on a volume).

Generates pg_dump-like data with bv-dumpgen (night 1 and the next night), then per run: a fresh
volume, put night 1, put the next night, get the next night to a pipe, verify. Prints the median
of the runs as one table. Peak RSS is the largest of any bvtool child.

    python3 bench/ingest_restore.py [--build build] [--mib 512] [--runs 3] [--hard] [--smoke]
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def run(cmd, stdin=None, stdout=subprocess.DEVNULL):
    t0 = time.perf_counter()
    subprocess.run(cmd, stdin=stdin, stdout=stdout, check=True)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--mib", type=int, default=512)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--hard", action="store_true", help="less compressible data")
    ap.add_argument("--smoke", action="store_true", help="tiny input, one run: checks the harness works")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    if args.smoke:
        args.mib, args.runs = 16, 1
    bvtool = os.path.join(args.build, "bvtool")
    dumpgen = os.path.join(args.build, "bench", "bv-dumpgen")
    work = args.workdir or tempfile.mkdtemp(prefix="bv-bench-")
    os.makedirs(work, exist_ok=True)
    night0, night1 = os.path.join(work, "night0.sql"), os.path.join(work, "night1.sql")
    extra = ["--hard"] if args.hard else []
    for night, path in ((0, night0), (1, night1)):
        with open(path, "wb") as f:
            subprocess.run([dumpgen, "--mib", str(args.mib), "--night", str(night)] + extra, stdout=f, check=True)
    size0, size1 = os.path.getsize(night0), os.path.getsize(night1)

    rows = {k: [] for k in ("ingest", "next", "restore", "verify", "stored", "next_stored")}
    for _ in range(args.runs):
        vol, key = os.path.join(work, "vol"), os.path.join(work, "key")
        shutil.rmtree(vol, ignore_errors=True)
        if os.path.exists(key):
            os.remove(key)
        subprocess.run([bvtool, "init", vol, "--key-file", key], stdout=subprocess.DEVNULL, check=True)
        k = ["--key-file", key]
        rows["ingest"].append(size0 / run([bvtool, "put", vol, "bench/db", night0] + k) / 1e6)
        rows["next"].append(size1 / run([bvtool, "put", vol, "bench/db", night1] + k) / 1e6)
        cat = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        rows["restore"].append(size1 / run([bvtool, "get", vol, "bench/db"] + k, stdout=cat.stdin) / 1e6)
        cat.stdin.close()
        cat.wait()
        rows["verify"].append((size0 + size1) / run([bvtool, "verify", vol] + k) / 1e6)
        ls = subprocess.run([bvtool, "ls", vol, "--json"], capture_output=True, check=True, text=True).stdout
        import json
        snaps = json.loads(ls)
        rows["next_stored"].append(snaps[0]["new_bytes"])
        rows["stored"].append(snaps[1]["new_bytes"])
    rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"input: {size0 / 1e6:.0f} MB night 1, {size1 / 1e6:.0f} MB next night "
          f"({'hard' if args.hard else 'compressible'}), {args.runs} run(s), median")
    print("| tool | ingest MB/s | next-night ingest MB/s | stored night 1 | stored next night | restore MB/s | verify MB/s | peak RSS |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print(f"| BV offline (bvtool) | {med['ingest']:.0f} | {med['next']:.0f} | {med['stored'] / 1e6:.1f} MB "
          f"({100 * med['stored'] / size0:.1f}%) | {med['next_stored'] / 1e6:.2f} MB "
          f"({100 * med['next_stored'] / max(1, med['stored']):.1f}%) | {med['restore']:.0f} | {med['verify']:.0f} | "
          f"{rss_mib:.0f} MiB |")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
