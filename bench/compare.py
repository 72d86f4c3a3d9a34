#!/usr/bin/env python3
"""BV against restic and Borg on the same dumps, in one go.

Generates pg_dump-like data with bv-dumpgen (night 1 and the next night), then, per run and per
tool, a fresh repository: ingest night 1, ingest the next night, restore the next night into a
pipe, verify everything. The tools take turns within each run, so the machine's noise falls on
all of them alike. Prints one table per data kind with the median of the runs, BV's ratio to
each peer and each bvd way's ratio to offline (the share the targets name): the ratio of the
medians and, in brackets, the lowest and highest of the runs' own ratios.

Tools:
  bv          bvtool put / get / verify on a volume directory (offline)
  bvd-nc      bvd over loopback: raw PUT with nc (reading its request lines and the dump from one
              file, as bvtool put reads its file), raw GET with nc, VERIFY
  bvd-push    bvd over loopback: bvtool push (framed, resumable), bvtool get, VERIFY
  restic      restic 0.14: backup --stdin (compression auto: zstd, encrypted), dump, check --read-data
  borg        Borg 1.2: create --compression zstd,3 (repokey), extract --stdout, check --verify-data

All encrypted. Peak RSS is the largest of the tool's own processes (bvd's for the bvd rows).

    python3 bench/compare.py [--build build] [--mib 512] [--runs 3] [--kinds compressible,hard]
                             [--tools bv,bvd-nc,bvd-push,restic,borg] [--smoke] [--baseline OTHER_BUILD]

--baseline runs every BV tool a second time from another build (the previous commit's, say), as
"<tool>@base", taking turns with the rest, and prints this build's ratio to it: a change that
must not cost speed is checked side by side in one run.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from bvd_process import BvdProcess

PASSWORD = "bench-password"
METRICS = ("ingest", "next", "restore", "verify", "stored", "next_stored", "rss")


class Runner:
    """Runs commands; tracks the peak RSS of every process it waited for."""

    def __init__(self, env):
        self.env = env
        self.rss_kib = 0

    def run(self, cmd, stdin_path=None, stdout=subprocess.DEVNULL, input_bytes=None):
        """Returns seconds. stdin from a file, or input_bytes."""
        f = open(stdin_path, "rb") if stdin_path else None
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdin=f if f else (subprocess.PIPE if input_bytes is not None else subprocess.DEVNULL),
                             stdout=stdout, stderr=subprocess.PIPE, env=self.env)
        if input_bytes is not None:
            p.stdin.write(input_bytes)
            p.stdin.close()
        err = p.stderr.read()
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        secs = time.perf_counter() - t0
        if f:
            f.close()
        self.rss_kib = max(self.rss_kib, usage.ru_maxrss)
        if p.returncode != 0:
            raise SystemExit("%s failed (%d): %s" % (" ".join(cmd[:3]), p.returncode, err.decode(errors="replace")[-2000:]))
        return secs

    def run_to_pipe(self, cmd, expect_bytes, input_bytes=None):
        """Runs cmd with its output into a pipe that `wc -c` drains; checks the byte count."""
        wc = subprocess.Popen(["wc", "-c"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        secs = self.run(cmd, stdout=wc.stdin, input_bytes=input_bytes)
        wc.stdin.close()
        n = int(wc.stdout.read())
        wc.wait()
        if n != expect_bytes:
            raise SystemExit("%s restored %d of %d bytes" % (" ".join(cmd[:3]), n, expect_bytes))
        return secs


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


class Bv:
    def __init__(self, build, work, suffix=""):
        self.bvtool = os.path.join(build, "bvtool")
        self.work = work
        self.name = "bv" + suffix

    def cycle(self, r, night0, night1):
        vol, key = os.path.join(self.work, "vol"), os.path.join(self.work, "key")
        shutil.rmtree(vol, ignore_errors=True)
        if os.path.exists(key):
            os.remove(key)
        r.run([self.bvtool, "init", vol, "--key-file", key])
        k = ["--key-file", key]
        out = {"ingest": r.run([self.bvtool, "put", vol, "bench/db", night0] + k)}
        out["stored"] = du(vol)
        out["next"] = r.run([self.bvtool, "put", vol, "bench/db", night1] + k)
        out["next_stored"] = du(vol) - out["stored"]
        out["restore"] = r.run_to_pipe([self.bvtool, "get", vol, "bench/db"] + k, os.path.getsize(night1))
        out["verify"] = r.run([self.bvtool, "verify", vol] + k)
        return out


class Bvd:
    """bvd on loopback; `how` is nc (raw PUT/GET) or push (bvtool push / get)."""

    def __init__(self, build, work, how, suffix=""):
        self.build = build
        self.bvtool = os.path.join(build, "bvtool")
        self.work = work
        self.how = how
        self.name = "bvd-" + how + suffix

    def cycle(self, r, night0, night1):
        root = os.path.join(self.work, "bvd")
        shutil.rmtree(root, ignore_errors=True)
        bvd = BvdProcess(self.build, root)
        port, token = bvd.port, bvd.token
        try:
            segments = bvd.tenant_dir
            remote = ["--server", "127.0.0.1:%d" % port, "--token-file", bvd.token_file]
            nc = ["nc", "-N", "127.0.0.1", str(port)]

            def push(path):
                if self.how == "nc":
                    # The request lines and the dump in one file, written before the clock starts:
                    # nc reads it as bvtool put reads its file, and no feeder shares the cores.
                    request = os.path.join(self.work, "request")
                    with open(request, "wb") as dst, open(path, "rb") as src:
                        dst.write(("AUTH default %s\nPUT bench/db size=%d\n" % (token, os.path.getsize(path))).encode())
                        shutil.copyfileobj(src, dst, 4 << 20)
                    try:
                        return r.run(nc, stdin_path=request)
                    finally:
                        os.remove(request)
                return r.run([self.bvtool, "push", "bench/db", path] + remote)

            out = {"ingest": push(night0)}
            out["stored"] = du(segments)
            out["next"] = push(night1)
            out["next_stored"] = du(segments) - out["stored"]
            size1 = os.path.getsize(night1)
            if self.how == "nc":
                get = ("AUTH default %s\nGET bench/db\n" % token).encode()
                out["restore"] = r.run_to_pipe(["nc", "127.0.0.1", str(port)], size1, input_bytes=get)
            else:
                out["restore"] = r.run_to_pipe([self.bvtool, "get", "bench/db"] + remote, size1)
            ids = subprocess.run(["nc", "127.0.0.1", str(port)], capture_output=True, check=True,
                                 input=("AUTH default %s\nLIST\nQUIT\n" % token).encode()).stdout.decode()
            snaps = [l.split()[1].split("=")[1] for l in ids.splitlines() if l.startswith("SNAPSHOT ")]
            verify = ("AUTH default %s\n%sQUIT\n" % (token, "".join("VERIFY %s\n" % s for s in snaps))).encode()
            t0 = time.perf_counter()
            v = subprocess.run(["nc", "127.0.0.1", str(port)], input=verify, capture_output=True, check=True).stdout
            out["verify"] = time.perf_counter() - t0
            if v.count(b"OK verified=") != len(snaps):
                raise SystemExit("bvd VERIFY failed: %s" % v[:500])
            r.rss_kib = max(r.rss_kib, bvd.peak_rss_kib())
        finally:
            bvd.stop()
        return out


class Restic:
    name = "restic"

    def __init__(self, work):
        self.work = work

    def cycle(self, r, night0, night1):
        repo = os.path.join(self.work, "restic")
        shutil.rmtree(repo, ignore_errors=True)
        r.env = dict(os.environ, RESTIC_PASSWORD=PASSWORD, RESTIC_REPOSITORY=repo,
                     RESTIC_CACHE_DIR=os.path.join(self.work, "restic-cache"))
        r.run(["restic", "init", "--repository-version", "2"])
        b = ["restic", "backup", "--quiet", "--stdin", "--stdin-filename", "db.sql", "--compression", "auto"]
        out = {"ingest": r.run(b, stdin_path=night0)}
        out["stored"] = du(repo)
        out["next"] = r.run(b, stdin_path=night1)
        out["next_stored"] = du(repo) - out["stored"]
        out["restore"] = r.run_to_pipe(["restic", "dump", "--quiet", "latest", "db.sql"], os.path.getsize(night1))
        out["verify"] = r.run(["restic", "check", "--quiet", "--read-data"])
        return out


class Borg:
    name = "borg"

    def __init__(self, work):
        self.work = work

    def cycle(self, r, night0, night1):
        repo = os.path.join(self.work, "borg")
        shutil.rmtree(repo, ignore_errors=True)
        r.env = dict(os.environ, BORG_PASSPHRASE=PASSWORD, BORG_BASE_DIR=os.path.join(self.work, "borg-base"),
                     BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK="yes", BORG_RELOCATED_REPO_ACCESS_IS_OK="yes")
        r.run(["borg", "init", "--encryption", "repokey", repo])
        c = ["borg", "create", "--compression", "zstd,3", "--stdin-name", "db.sql"]
        out = {"ingest": r.run(c + [repo + "::n0", "-"], stdin_path=night0)}
        out["stored"] = du(repo)
        out["next"] = r.run(c + [repo + "::n1", "-"], stdin_path=night1)
        out["next_stored"] = du(repo) - out["stored"]
        out["restore"] = r.run_to_pipe(["borg", "extract", "--stdout", repo + "::n1"], os.path.getsize(night1))
        out["verify"] = r.run(["borg", "check", "--verify-data", repo])
        return out


def table(kind, size0, size1, runs, results, names):
    per_run = {}
    for name in names:
        per_run[name] = {}
        for m in METRICS:
            v = [x[m] for x in results[name]]
            if m in ("ingest", "restore"):
                v = [(size0 if m == "ingest" else size1) / s / 1e6 for s in v]
            elif m == "next":
                v = [size1 / s / 1e6 for s in v]
            elif m == "verify":
                v = [(size0 + size1) / s / 1e6 for s in v]
            per_run[name][m] = v
    med = {name: {m: statistics.median(v) for m, v in per_run[name].items()} for name in names}
    print()
    print("%s data: night 1 %.0f MB, next night %.0f MB; median of %d run(s)" % (kind, size0 / 1e6, size1 / 1e6, runs))
    print("| tool | ingest MB/s | next-night ingest MB/s | stored night 1 | next night adds | restore MB/s | verify MB/s | peak RSS |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in names:
        m = med[name]
        print("| %s | %.0f | %.0f | %.1f MB (%.1f%%) | %.2f MB | %.0f | %.0f | %.0f MiB |" % (
            name, m["ingest"], m["next"], m["stored"] / 1e6, 100 * m["stored"] / size0, m["next_stored"] / 1e6,
            m["restore"], m["verify"], m["rss"] / 1024))

    def ratio(a, b, m):
        """The ratio of the medians; with more than one run, the range of the runs' own ratios (the
        tools of one run take their turns within minutes, so a slow drift of the machine falls on
        both sides of a run's ratio)."""
        r = med[a][m] / max(1e-9, med[b][m])
        if runs < 2 or m not in ("ingest", "next", "restore", "verify"):
            return "%.2f×" % r
        each = [x / max(1e-9, y) for x, y in zip(per_run[a][m], per_run[b][m])]
        return "%.2f× (%.2f–%.2f)" % (r, min(each), max(each))

    columns = ("ingest", "next", "stored", "next_stored", "restore", "verify", "rss")
    peers = [n for n in names if n in ("restic", "borg")]
    bvs = [n for n in names if n.startswith("bv") and not n.endswith("@base")]
    for bv in bvs:
        for peer in peers:
            print("| %s / %s | %s |" % (bv, peer, " | ".join(ratio(bv, peer, m) for m in columns)))
    # Through bvd against offline: the share the targets name ("within 85% of offline").
    if "bv" in names:
        for way in [n for n in bvs if n != "bv"]:
            print("| %s / bv | %s |" % (way, " | ".join(ratio(way, "bv", m) for m in columns)))
    # This build against the baseline build.
    for bv in bvs:
        if bv + "@base" in names:
            print("| %s / %s@base | %s |" % (bv, bv, " | ".join(ratio(bv, bv + "@base", m) for m in columns)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--mib", type=int, default=512)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--kinds", default="compressible,hard")
    ap.add_argument("--tools", default="bv,bvd-nc,bvd-push,restic,borg")
    ap.add_argument("--smoke", action="store_true", help="tiny input, two runs: checks that the harness works")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--baseline", default=None, help="another build directory whose BV tools run beside these")
    args = ap.parse_args()
    if args.smoke:
        args.mib, args.runs = 8, 2
    work = args.workdir or tempfile.mkdtemp(prefix="bv-compare-")
    os.makedirs(work, exist_ok=True)
    dumpgen = os.path.join(args.build, "bench", "bv-dumpgen")
    tools = []
    for name in args.tools.split(","):
        if name == "bv":
            tools.append(Bv(args.build, work))
            if args.baseline:
                tools.append(Bv(args.baseline, work, "@base"))
        elif name in ("bvd-nc", "bvd-push"):
            tools.append(Bvd(args.build, work, name[4:]))
            if args.baseline:
                tools.append(Bvd(args.baseline, work, name[4:], "@base"))
        elif name == "restic":
            tools.append(Restic(work))
        elif name == "borg":
            tools.append(Borg(work))
        else:
            raise SystemExit("unknown tool " + name)
    try:
        for kind in args.kinds.split(","):
            night0, night1 = os.path.join(work, "night0.sql"), os.path.join(work, "night1.sql")
            for night, path in ((0, night0), (1, night1)):
                with open(path, "wb") as f:
                    subprocess.run([dumpgen, "--mib", str(args.mib), "--night", str(night)] +
                                   (["--hard"] if kind == "hard" else []), stdout=f, check=True)
            results = {t.name: [] for t in tools}
            for _ in range(args.runs):
                for t in tools:
                    r = Runner(dict(os.environ))
                    out = t.cycle(r, night0, night1)
                    out["rss"] = r.rss_kib
                    results[t.name].append(out)
            table(kind, os.path.getsize(night0), os.path.getsize(night1), args.runs, results, [t.name for t in tools])
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
