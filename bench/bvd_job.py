#!/usr/bin/env python3
"""A backup job's ingest against a push of the same bytes, side by side: in each round, for each
build given, a fresh bvd whose tenant has a job whose one stream is `cat DUMP` (run with
`RUN job wait=true`, timed from the request to the run's record), and a fresh bvd that takes the
same dump as a raw `nc -N` push (nc reads the request lines and the dump from one file written
before the clock starts). Both are new volumes, so neither deduplicates against the other. Prints
the median MB/s of each and the job's share of the push.

    python3 bench/bvd_job.py --build build [--build other] [--mib 256] [--rounds 5] [--dump FILE]
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time

from bvd_process import BvdProcess, generate_dump


def config(path, dump, token_hash):
    with open(path, "w") as f:
        f.write('[[tenant]]\nname = "bench"\ntokens = [ { hash = "%s", role = "admin" } ]\n'
                '[[tenant.job]]\nname = "dump"\nsource = "bench/db"\n'
                '  [[tenant.job.stream]]\n  command = ["cat", "%s"]\n' % (token_hash, dump))


def run_job(port, token):
    """Seconds from RUN to the run's end; fails unless the run is ok."""
    with socket.create_connection(("127.0.0.1", port), timeout=600) as s:
        f = s.makefile("rwb")
        t0 = time.perf_counter()
        f.write(("AUTH bench %s\nRUN dump wait=true\n" % token).encode())
        f.flush()
        lines = []
        while True:
            line = f.readline().decode()
            if not line:
                raise SystemExit("bvd closed the connection: %s" % lines)
            lines.append(line)
            if line.startswith("OK finished=") or line.startswith("ERR"):
                break
        elapsed = time.perf_counter() - t0
    if "result=ok" not in lines[-1]:
        raise SystemExit("the job failed: %s" % lines)
    return elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", action="append", required=True)
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--dump", help="a dump to use (a real pg_dump), instead of a generated one")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bv-bvd-job-")
    dump = os.path.abspath(args.dump) if args.dump else os.path.join(work, "dump.sql")
    size = os.path.getsize(dump) if args.dump else generate_dump(args.build[0], args.mib, False, dump)
    ways = ("push", "job")
    secs = {(b, w): [] for b in args.build for w in ways}
    try:
        for _ in range(args.rounds):
            for build in args.build:
                tok = json.loads(subprocess.run([os.path.join(build, "bvtool"), "token", "--json", "--role", "admin"],
                                                check=True, capture_output=True, text=True).stdout)
                cfg = os.path.join(work, "bvd.toml")
                config(cfg, dump, tok["hash"])
                for way in ways:
                    root = os.path.join(work, "bvd")
                    shutil.rmtree(root, ignore_errors=True)
                    bvd = BvdProcess(build, root, config=cfg)
                    try:
                        if way == "job":
                            secs[(build, way)].append(run_job(bvd.port, tok["token"]))
                            continue
                        request = os.path.join(work, "request")
                        with open(request, "wb") as dst, open(dump, "rb") as src:
                            dst.write(("AUTH bench %s\nPUT bench/db size=%d\n" % (tok["token"], size)).encode())
                            shutil.copyfileobj(src, dst, 4 << 20)
                        t0 = time.perf_counter()
                        with open(request, "rb") as f:
                            reply = subprocess.run(["nc", "-N", "127.0.0.1", str(bvd.port)], stdin=f,
                                                   capture_output=True, check=True).stdout.decode()
                        secs[(build, way)].append(time.perf_counter() - t0)
                        if not reply.startswith("OK ") or "snapshot=" not in reply:
                            raise SystemExit("the push failed: %s" % reply)
                        os.remove(request)
                    finally:
                        bvd.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d MB%s, median of %d rounds" % (size // 1000000, " (%s)" % args.dump if args.dump else "", args.rounds))
    print("| build | push (nc) | job (cat) |")
    print("| --- | --- | --- |")
    for build in args.build:
        push = statistics.median(secs[(build, "push")])
        job = statistics.median(secs[(build, "job")])
        print("| %s | %.0f MB/s | %.0f MB/s (%.0f%% of the push) |" % (build, size / push / 1e6, size / job / 1e6,
                                                                     100 * push / job))


if __name__ == "__main__":
    main()
