#!/usr/bin/env python3
"""What TLS costs, side by side in one run: one bvd with a plain loopback listener and a TLS one;
in each round, `bvtool push FILE` and `bvtool get` (into a pipe that `wc -c` drains) over plain
TCP and over TLS (the fingerprint pinned), taking turns. Prints the median MB/s of each way and
TLS's share of plain, and the CPU seconds bvd and the client (bvtool, and `wc` for a get) spent on
each, which other load on the machine moves less than it moves the wall clock. Each push is a new snapshot of the same dump (dedup makes the second and
later ones cheap to store, alike for both ways).

    python3 bench/bvd_tls.py --build build [--mib 128] [--rounds 3] [--hard]
"""
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time

from bvd_process import BvdProcess, generate_dump, side_by_side_args


def cpu_seconds(pid):
    """User + system CPU seconds of process pid so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd, to_pipe=False):
    t0 = time.perf_counter()
    if to_pipe:
        wc = subprocess.Popen(["wc", "-c"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        subprocess.run(cmd, stdout=wc.stdin, check=True)
        secs = time.perf_counter() - t0
        wc.stdin.close()
        n = int(wc.stdout.read())
        wc.wait()
        return secs, n
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0, None


def main():
    args = side_by_side_args(__doc__, 128)
    build = args.build[0]
    bvtool = os.path.join(build, "bvtool")
    work = tempfile.mkdtemp(prefix="bv-bvd-tls-")
    dump = os.path.join(work, "dump.sql")
    size = generate_dump(build, args.mib, args.hard, dump)
    bvd = BvdProcess(build, os.path.join(work, "bvd"), tls=True)
    remotes = {
        "plain": ["--server", "127.0.0.1:%d" % bvd.port, "--token-file", bvd.token_file],
        "tls": ["--server", "tls://127.0.0.1:%d" % bvd.tls_port, "--token-file", bvd.token_file,
                "--fingerprint", bvd.fingerprint],
    }
    secs = {(op, way): [] for op in ("push", "get") for way in remotes}
    cpu = {(op, way): [] for op in ("push", "get") for way in remotes}  # (bvd, client) seconds

    def measured(op, way, cmd, to_pipe=False):
        bvd0, client0 = cpu_seconds(bvd.proc.pid), children_cpu_seconds()
        result = timed(cmd, to_pipe)
        cpu[(op, way)].append((cpu_seconds(bvd.proc.pid) - bvd0, children_cpu_seconds() - client0))
        return result

    try:
        for r in range(args.rounds):
            for way, remote in remotes.items():
                source = "bench/%s%d" % (way, r)
                secs[("push", way)].append(measured("push", way, [bvtool, "push", source, dump] + remote)[0])
                t, n = measured("get", way, [bvtool, "get", source] + remote, to_pipe=True)
                if n != size:
                    raise SystemExit("%s get returned %d of %d bytes" % (way, n, size))
                secs[("get", way)].append(t)
    finally:
        bvd.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("%d MiB dump (%d bytes), %d rounds, median MB/s; median CPU seconds of bvd + client" %
          (args.mib, size, args.rounds))
    for op in ("push", "get"):
        plain = size / statistics.median(secs[(op, "plain")]) / 1e6
        tls = size / statistics.median(secs[(op, "tls")]) / 1e6
        c = {way: [statistics.median(x[i] for x in cpu[(op, way)]) for i in (0, 1)] for way in remotes}
        print("%-5s plain %7.1f  tls %7.1f  tls/plain %5.1f%%   cpu plain %.2f+%.2f  tls %.2f+%.2f  plain/tls %5.1f%%" %
              (op, plain, tls, 100 * tls / plain, c["plain"][0], c["plain"][1], c["tls"][0], c["tls"][1],
               100 * sum(c["plain"]) / sum(c["tls"])))


if __name__ == "__main__":
    main()
