#!/usr/bin/env python3
"""Pushes through bvd against offline put, side by side: in each round, for each build given,
`bvtool put` into a fresh volume, then a fresh bvd for `bvtool push FILE`, another for
`bvtool push -` from a pipe (the file spliced into it), and another for a raw `nc -N` push (nc
reads its request lines and the dump from one file, written before the clock starts, as
`bvtool put` reads its file; no feeder shares the cores). Prints the median MB/s of each way and
its share of offline for each build.

    python3 bench/bvd_push.py --build build [--build other-build] [--mib 256] [--rounds 5] [--hard]
"""
import os
import shutil
import statistics
import subprocess
import tempfile
import time

from bvd_process import BvdProcess, generate_dump, side_by_side_args


def splice_file(path, pipe_fd):
    with open(path, "rb") as src:
        while os.splice(src.fileno(), pipe_fd, 1 << 20) > 0:
            pass


def timed(cmd, stdin_path=None, pipe_from=None):
    """Seconds for cmd; its standard input is the file at stdin_path, or a pipe the file at
    pipe_from is spliced into."""
    t0 = time.perf_counter()
    if pipe_from is None:
        with open(stdin_path if stdin_path else os.devnull, "rb") as f:
            subprocess.run(cmd, stdin=f, stdout=subprocess.DEVNULL, check=True)
    else:
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        splice_file(pipe_from, p.stdin.fileno())
        p.stdin.close()
        if p.wait() != 0:
            raise SystemExit("%s failed" % " ".join(cmd[:3]))
    return time.perf_counter() - t0


def main():
    args = side_by_side_args(__doc__, 256)
    work = tempfile.mkdtemp(prefix="bv-bvd-push-")
    dump = os.path.join(work, "dump.sql")
    size = generate_dump(args.build[0], args.mib, args.hard, dump)
    ways = ("offline", "push file", "push pipe", "nc")
    secs = {(b, w): [] for b in args.build for w in ways}
    try:
        for _ in range(args.rounds):
            for build in args.build:
                bvtool = os.path.join(build, "bvtool")
                vol, key = os.path.join(work, "vol"), os.path.join(work, "key")
                shutil.rmtree(vol, ignore_errors=True)
                if os.path.exists(key):
                    os.remove(key)
                subprocess.run([bvtool, "init", vol, "--key-file", key], stdout=subprocess.DEVNULL, check=True)
                secs[(build, "offline")].append(timed([bvtool, "put", vol, "bench/db", dump, "--key-file", key]))
                for way in ways[1:]:
                    root = os.path.join(work, "bvd")
                    shutil.rmtree(root, ignore_errors=True)
                    bvd = BvdProcess(build, root)
                    try:
                        remote = ["--server", "127.0.0.1:%d" % bvd.port, "--token-file", bvd.token_file]
                        if way == "push file":
                            t = timed([bvtool, "push", "bench/db", dump] + remote)
                        elif way == "push pipe":
                            t = timed([bvtool, "push", "bench/db", "-"] + remote, pipe_from=dump)
                        else:
                            request = os.path.join(work, "request")
                            with open(request, "wb") as dst, open(dump, "rb") as src:
                                dst.write(("AUTH default %s\nPUT bench/db size=%d\n" % (bvd.token, size)).encode())
                                shutil.copyfileobj(src, dst, 4 << 20)
                            t = timed(["nc", "-N", "127.0.0.1", str(bvd.port)], stdin_path=request)
                            os.remove(request)
                        secs[(build, way)].append(t)
                    finally:
                        bvd.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d MB, median of %d rounds" % (size // 1000000, args.rounds))
    print("| build | " + " | ".join(ways) + " |")
    print("| --- |" + " --- |" * len(ways))
    for build in args.build:
        offline = statistics.median(secs[(build, "offline")])
        cells = []
        for way in ways:
            m = statistics.median(secs[(build, way)])
            cells.append("%.0f MB/s" % (size / m / 1e6) + ("" if way == "offline" else " (%.0f%%)" % (100 * offline / m)))
        print("| %s | %s |" % (build, " | ".join(cells)))


if __name__ == "__main__":
    main()
