#!/usr/bin/env python3
"""Prune and compaction against restic and Borg, on thirty nights of a real pg_dump.

Starts a throwaway PostgreSQL cluster, fills an orders table (timestamps, integers, emails,
numerics, md5 tokens, short notes), and makes thirty nightly `pg_dump -Fp` dumps, each after 2% of
the rows were updated at random and 1% inserted. Then, per run and per tool, a fresh repository
takes the thirty nights (dated a day apart), and the clock runs over the cleanup to
`--keep-daily 7`:

  bv       bvtool prune --keep-daily 7 --compact (one run, as an operator would); then, from
           copies of the same volume, prune and compact as two runs, and compact alone at each
           of --thresholds
  restic   restic 0.14: forget --keep-daily 7 --prune
  borg     Borg 1.2: prune --keep-daily 7, then compact

and the disk each takes after it. "fresh" is a new BV volume holding only the seven kept nights:
the target is BV after compaction within 10% of it. Tools take turns within each run; the table
gives medians.

    python3 bench/retention_compare.py [--build build] [--rows 600000] [--nights 30] [--runs 3]
                                       [--thresholds 80,90,95] [--work /var/tmp] [--dumps DIR]
                                       [--segment-mib N] [--tools restic,borg]

Needs root (PostgreSQL runs as the postgres user), PostgreSQL's server, restic and borg
(scripts/deps.sh installs them).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PASSWORD = "bench-password"


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def run(cmd, env=None, stdin_path=None):
    """Seconds the command took; fails loudly."""
    f = open(stdin_path, "rb") if stdin_path else None
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdin=f or subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    t = time.perf_counter() - t0
    if f:
        f.close()
    if p.returncode != 0:
        sys.exit("%s failed: %s" % (" ".join(cmd), p.stderr.decode(errors="replace")[-2000:]))
    return t


class Postgres:
    """A throwaway cluster on a Unix socket, run as postgres."""

    def __init__(self, work):
        bins = sorted(d for d in os.listdir("/usr/lib/postgresql")
                      if os.path.exists("/usr/lib/postgresql/%s/bin/initdb" % d))
        if not bins:
            sys.exit("needs PostgreSQL's server (Debian package postgresql)")
        self.bin = "/usr/lib/postgresql/%s/bin" % bins[-1]
        self.root = tempfile.mkdtemp(prefix="bv-pg-", dir=work)
        os.chmod(self.root, 0o755)
        shutil.chown(self.root, "postgres", "postgres")
        self.data = os.path.join(self.root, "data")
        self.port = str(20000 + os.getpid() % 20000)
        self.as_pg = ["runuser", "-u", "postgres", "--"]
        subprocess.run(self.as_pg + [self.bin + "/initdb", "-D", self.data, "-A", "trust", "-U", "postgres"],
                       check=True, capture_output=True)
        subprocess.run(self.as_pg + [self.bin + "/pg_ctl", "-D", self.data, "-w", "-l", os.path.join(self.root, "log"),
                                     "-o", "-k %s -p %s -c listen_addresses=''" % (self.root, self.port), "start"],
                       check=True, capture_output=True)
        self.env = dict(os.environ, PGHOST=self.root, PGPORT=self.port, PGUSER="postgres")

    def sql(self, db, text):
        subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-q", "-d", db, "-c", text], env=self.env, check=True,
                       capture_output=True)

    def dump(self, db, path):
        with open(path, "wb") as f:
            subprocess.run(["pg_dump", "-Fp", "-d", db], env=self.env, stdout=f, check=True)

    def stop(self):
        subprocess.run(self.as_pg + [self.bin + "/pg_ctl", "-D", self.data, "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def make_nights(work, rows, nights):
    pg = Postgres(work)
    paths = []
    try:
        pg.sql("postgres", "CREATE DATABASE shop")
        pg.sql("shop", """
            CREATE TABLE orders (id bigint PRIMARY KEY, placed timestamptz, customer integer, email text,
                                 total numeric(12,2), token text, note text);
            INSERT INTO orders SELECT i, '2025-01-01'::timestamptz + i * interval '17 seconds',
                   (random() * 200000)::int, 'customer' || (random() * 1000000)::int || '@example.com',
                   (random() * 100000)::numeric(12,2) / 100, md5(i::text || random()::text),
                   (ARRAY['gift', 'express', 'fragile', 'call before', 'leave at door', ''])[1 + (random() * 5)::int]
            FROM generate_series(1, %d) i;""" % rows)
        for n in range(nights):
            if n > 0:
                pg.sql("shop", """
                    UPDATE orders SET total = (random() * 100000)::numeric(12,2) / 100, note = 'changed',
                                      token = md5(random()::text) WHERE random() < 0.02;
                    INSERT INTO orders SELECT m + i, now(), (random() * 200000)::int,
                           'new' || (random() * 1000000)::int || '@example.com',
                           (random() * 100000)::numeric(12,2) / 100, md5(random()::text), 'new'
                    FROM (SELECT max(id) AS m FROM orders) s, generate_series(1, %d) i;""" % (rows // 100))
            path = os.path.join(work, "night%02d.sql" % n)
            pg.dump("shop", path)
            paths.append(path)
    finally:
        pg.stop()
    return paths


def day(n):
    return "2026-%02d-%02dT03:00:00Z" % (1 + n // 28, 1 + n % 28)


class Bv:
    name = "bv"

    def __init__(self, work, bvtool, thresholds, segment_mib):
        self.work, self.bvtool, self.thresholds, self.segment_mib = work, bvtool, thresholds, segment_mib
        self.env = dict(os.environ, BV_KEY_FILE=os.path.join(work, "bv.key"))

    def fill(self, vol, nights, only=None):
        shutil.rmtree(vol, ignore_errors=True)
        if os.path.exists(self.env["BV_KEY_FILE"]):
            os.remove(self.env["BV_KEY_FILE"])
        size = ["--segment-mib", str(self.segment_mib)] if self.segment_mib else []
        run([self.bvtool, "init", vol] + size, self.env)
        for n, path in enumerate(nights):
            if only is None or n in only:
                run([self.bvtool, "put", vol, "db/orders", path, "--time", day(n)], self.env)

    def cycle(self, nights):
        vol = os.path.join(self.work, "bv")
        self.fill(vol, nights)
        out = {"before": du(vol)}
        unpruned = vol + ".unpruned"
        shutil.rmtree(unpruned, ignore_errors=True)
        shutil.copytree(vol, unpruned)
        # What an operator runs: one command, as restic's forget --prune.
        out["cleanup"] = run([self.bvtool, "prune", vol, "--keep-daily", "7", "--compact"], self.env)
        out["after"] = du(vol)
        shutil.rmtree(vol)
        # The same in two runs, and compaction alone at each threshold, from copies.
        for t in [None] + self.thresholds:
            copy = vol + ".copy"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(unpruned, copy)
            prune = run([self.bvtool, "prune", copy, "--keep-daily", "7"], self.env)
            threshold = ["--threshold", str(t)] if t else []
            compact = run([self.bvtool, "compact", copy] + threshold, self.env)
            if t is None:
                out["prune"], out["compact"] = prune, compact
            else:
                out["compact@%d" % t], out["after@%d" % t] = compact, du(copy)
            shutil.rmtree(copy)
        shutil.rmtree(unpruned)
        fresh = os.path.join(self.work, "bv-fresh")
        self.fill(fresh, nights, only=set(range(len(nights) - 7, len(nights))))
        out["fresh"] = du(fresh)
        shutil.rmtree(fresh)
        return out


class Restic:
    name = "restic"

    def __init__(self, work):
        self.work = work

    def cycle(self, nights):
        repo = os.path.join(self.work, "restic")
        shutil.rmtree(repo, ignore_errors=True)
        env = dict(os.environ, RESTIC_PASSWORD=PASSWORD, RESTIC_REPOSITORY=repo,
                   RESTIC_CACHE_DIR=os.path.join(self.work, "restic-cache"))
        run(["restic", "init", "--repository-version", "2"], env)
        for n, path in enumerate(nights):
            run(["restic", "backup", "--quiet", "--stdin", "--stdin-filename", "db.sql", "--compression", "auto",
                 "--time", day(n).replace("T", " ").rstrip("Z")], env, stdin_path=path)
        out = {"before": du(repo)}
        out["cleanup"] = run(["restic", "forget", "--quiet", "--keep-daily", "7", "--prune"], env)
        out["after"] = du(repo)
        shutil.rmtree(repo)
        return out


class Borg:
    name = "borg"

    def __init__(self, work):
        self.work = work

    def cycle(self, nights):
        repo = os.path.join(self.work, "borg")
        shutil.rmtree(repo, ignore_errors=True)
        env = dict(os.environ, BORG_PASSPHRASE=PASSWORD, BORG_BASE_DIR=os.path.join(self.work, "borg-base"),
                   BORG_RELOCATED_REPO_ACCESS_IS_OK="yes")
        run(["borg", "init", "--encryption", "repokey", repo], env)
        for n, path in enumerate(nights):
            run(["borg", "create", "--compression", "zstd,3", "--stdin-name", "db.sql", "--timestamp",
                 day(n).rstrip("Z"), "%s::n%02d" % (repo, n), "-"], env, stdin_path=path)
        out = {"before": du(repo)}
        prune = run(["borg", "prune", "--keep-daily", "7", repo], env)
        compact = run(["borg", "compact", repo], env)
        out["cleanup"] = prune + compact
        out["after"] = du(repo)
        shutil.rmtree(repo)
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--rows", type=int, default=600000)
    ap.add_argument("--nights", type=int, default=30)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--thresholds", default="80,90,95")
    ap.add_argument("--segment-mib", type=int, help="BV's segment size (bvtool init --segment-mib; default: BV's)")
    ap.add_argument("--tools", default="restic,borg", help="peers beside BV")
    ap.add_argument("--work", default="/var/tmp")
    ap.add_argument("--dumps", help="keep the dumps here, and use the ones already here (same --nights)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bv-retention-", dir=args.work)
    os.chmod(work, 0o755)  # the cluster below it runs as postgres
    try:
        t0 = time.perf_counter()
        if args.dumps:
            os.makedirs(args.dumps, exist_ok=True)
            nights = [os.path.join(args.dumps, "night%02d.sql" % n) for n in range(args.nights)]
            if not all(os.path.exists(p) for p in nights):
                os.chmod(args.dumps, 0o755)
                nights = make_nights(args.dumps, args.rows, args.nights)
        else:
            nights = make_nights(work, args.rows, args.nights)
        sizes = [os.path.getsize(p) for p in nights]
        print("%d nights of pg_dump, %.1f to %.1f MB each, made in %.0f s" %
              (len(nights), min(sizes) / 1e6, max(sizes) / 1e6, time.perf_counter() - t0), flush=True)
        thresholds = [int(t) for t in args.thresholds.split(",") if t]
        tools = [Bv(work, os.path.join(args.build, "bvtool"), thresholds, args.segment_mib)]
        tools += [t(work) for t in (Restic, Borg) if t.name in args.tools.split(",")]
        results = {t.name: [] for t in tools}
        for r in range(args.runs):
            for t in tools:
                out = t.cycle(nights)
                results[t.name].append(out)
                print("run %d %s: %s" % (r + 1, t.name, {k: round(v, 2) if isinstance(v, float) else v
                                                         for k, v in out.items()}), flush=True)
        med = {name: {k: statistics.median(o[k] for o in outs) for k in outs[0]} for name, outs in results.items()}
        bv = med["bv"]
        print("\n| tool | stored, 30 nights | cleanup to keep-daily 7 | stored after | vs fresh 7 nights |")
        print("| --- | --- | --- | --- | --- |")
        for name in med:
            m = med[name]
            print("| %s | %.1f MB | %.2f s | %.1f MB | %.2f× |" % (name, m["before"] / 1e6, m["cleanup"],
                                                                  m["after"] / 1e6, m["after"] / bv["fresh"]))
        print("| fresh BV volume, the 7 nights only | | | %.1f MB | 1.00× |" % (bv["fresh"] / 1e6))
        print("\nBV as two runs (prune, then compact): %.2f s + %.2f s" % (bv["prune"], bv["compact"]))
        for name in med:
            if name != "bv":
                ratios = [b["cleanup"] / o["cleanup"] for b, o in zip(results["bv"], results[name])]
                print("BV cleanup time / %s's: %.2f (ratio of medians); per run %s, median %.2f"
                      % (name, bv["cleanup"] / med[name]["cleanup"], ", ".join("%.2f" % x for x in ratios),
                         statistics.median(ratios)))
        print("\n| threshold | compact | stored after | vs fresh |")
        print("| --- | --- | --- | --- |")
        for t in thresholds:
            print("| %d%% | %.2f s | %.1f MB | %.3f× |" % (t, bv["compact@%d" % t], bv["after@%d" % t] / 1e6,
                                                         bv["after@%d" % t] / bv["fresh"]))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
