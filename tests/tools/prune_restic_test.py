#!/usr/bin/env python3
"""bvtool prune keeps what restic 0.14's `forget` keeps (docs/retention.md): generated sets of
snapshot times, each stored both as a restic host's snapshots and as a BV source's, and generated
policies; for every set and policy, the times `bvtool prune --dry-run --json` keeps must be the
times `restic forget --dry-run --json --group-by host` keeps. Then the prune itself: it removes
exactly what the dry run said, and `fsck --rebuild-index` brings none of it back.

Environment: BVTOOL (the binary); restic on PATH (scripts/deps.sh installs it).
"""
import calendar
import concurrent.futures
import datetime
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

BVTOOL = os.environ.get("BVTOOL", "build/bvtool")
SEED = int(os.environ.get("BV_RETENTION_SEED", "20261207"))
DAY = 86400


def fmt(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def ts(text):
    return calendar.timegm(datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").timetuple())


def time_sets(rng):
    """Named lists of whole-second UTC times: hand-picked edges, then generated ones."""
    sets = {
        # Across a year's end, ISO 2020-W53 (2020-12-28 to 2021-01-03) and 2026-W01 starting in 2025.
        "year-end": [ts("2020-12-%02dT%02d:00:00Z" % (d, h)) for d in (26, 27, 28, 31) for h in (1, 23)] +
                    [ts("2021-01-%02dT12:00:00Z" % d) for d in (1, 3, 4, 10)] +
                    [ts("2025-12-29T00:00:00Z"), ts("2026-01-04T23:59:59Z"), ts("2026-01-05T00:00:00Z")],
        # Leap days, and month ends that Go's AddDate rolls over.
        "leap": [ts(t) for t in ("2024-02-28T12:00:00Z", "2024-02-29T00:00:00Z", "2024-02-29T23:00:00Z",
                                 "2024-03-01T00:00:00Z", "2024-03-31T10:00:00Z", "2023-03-01T00:00:01Z",
                                 "2023-02-28T00:00:00Z", "2024-01-31T00:00:00Z", "2024-04-30T00:00:00Z")],
        # Equal times: one bucket, and keep-last counting each.
        "equal": [ts("2025-06-01T08:00:00Z")] * 4 + [ts("2025-06-02T08:00:00Z")] * 3 + [ts("2025-05-30T08:00:00Z")],
    }
    spans = [3600, 6 * 3600, DAY, 3 * DAY, 9 * DAY, 40 * DAY, 200 * DAY]
    for k in range(12):
        end = rng.randint(ts("2022-01-01T00:00:00Z"), ts("2026-06-01T00:00:00Z"))
        n = rng.randint(6, 20)
        if k % 3 == 0:  # nightly backups with jitter and a missed night now and then
            times = [end - i * DAY + rng.randint(-1800, 1800) for i in range(n + 5) if rng.random() > 0.2]
        else:  # random gaps of mixed sizes
            times, t = [], end
            for _ in range(n):
                times.append(t)
                t -= rng.randint(60, rng.choice(spans))
        sets["gen%d" % k] = times
    return sets


def policies(rng):
    """Lists of restic/bvtool keep options: each rule alone, then random mixes."""
    durations = ["1h", "12h", "2d", "7d", "1m", "3m", "1y", "1y2m", "10d5h"]
    counts = ["last", "hourly", "daily", "weekly", "monthly", "yearly"]
    withins = ["within", "within-hourly", "within-daily", "within-weekly", "within-monthly", "within-yearly"]
    out = [["--keep-%s" % c, "3"] for c in counts] + [["--keep-%s" % w, rng.choice(durations)] for w in withins]
    for _ in range(18):
        p = []
        for c in rng.sample(counts, rng.randint(1, 3)):
            p += ["--keep-%s" % c, str(rng.randint(1, 6))]
        for w in rng.sample(withins, rng.randint(0, 2)):
            p += ["--keep-%s" % w, rng.choice(durations)]
        out.append(p)
    return out


class PruneAgainstResticTest(unittest.TestCase):
    def setUp(self):
        if shutil.which("restic") is None:
            self.fail("restic is not installed (scripts/deps.sh installs it)")
        self.dir = tempfile.mkdtemp(prefix="bv-prune-restic-")
        self.env = dict(os.environ, TZ="UTC", RESTIC_PASSWORD="bv-test", BV_KEY_FILE=os.path.join(self.dir, "key"),
                        RESTIC_REPOSITORY=os.path.join(self.dir, "restic"), RESTIC_CACHE_DIR=os.path.join(self.dir, "cache"))
        self.volume = os.path.join(self.dir, "volume")
        self.run_ok(["restic", "init", "-q"])
        self.run_ok([BVTOOL, "init", self.volume, "--key-file", self.env["BV_KEY_FILE"]])

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_ok(self, cmd, stdin=None):
        p = subprocess.run(cmd, env=self.env, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            raise AssertionError("%s: exit %d: %s" % (" ".join(cmd), p.returncode, p.stderr))
        return p.stdout

    def store(self, sets):
        """Every set as restic host NAME and BV source NAME, one snapshot per time."""
        payload = os.path.join(self.dir, "payload")
        with open(payload, "w") as f:
            f.write("a dump\n")
        jobs = [(name, t) for name, times in sets.items() for t in times]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            for _ in pool.map(lambda j: self.run_ok(["restic", "backup", "-q", "--host", j[0], "--time",
                                                     fmt(j[1]).replace("T", " ").rstrip("Z"), payload]), jobs):
                pass
        for name, t in jobs:
            self.run_ok([BVTOOL, "put", self.volume, name, "--time", fmt(t)], stdin="a dump\n")

    def restic_kept(self, policy):
        groups = json.loads(self.run_ok(["restic", "forget", "--dry-run", "--json", "--group-by", "host"] + policy))
        return {g["host"]: sorted(s["time"] for s in g["keep"] or []) for g in groups}

    def bv_decisions(self, policy, dry_run=True):
        out = json.loads(self.run_ok([BVTOOL, "prune", self.volume, "--json"] + (["--dry-run"] if dry_run else []) +
                                     policy))
        return {s["source"]: s["snapshots"] for s in out["sources"]}

    def test_bv_keeps_what_restic_keeps(self):
        rng = random.Random(SEED)
        sets = time_sets(rng)
        self.store(sets)
        compared = 0
        for policy in policies(rng):
            want = self.restic_kept(policy)
            got = {src: sorted(s["time"] for s in snaps if s["keep"]) for src, snaps in self.bv_decisions(policy).items()}
            for name in sets:
                self.assertEqual(got.get(name), want.get(name),
                                 "set %s, policy %s (seed %d)" % (name, " ".join(policy), SEED))
                compared += 1
        print("%d set × policy pairs agree with restic forget (%d sets, seed %d)" % (compared, len(sets), SEED))
        self.assertGreaterEqual(compared, 300)

        # The prune itself removes what the dry run said, and a rebuilt index agrees.
        policy = ["--keep-daily", "4", "--keep-monthly", "2"]
        planned = self.bv_decisions(policy)
        self.bv_decisions(policy, dry_run=False)
        self.run_ok([BVTOOL, "fsck", self.volume, "--rebuild-index"])
        listed = json.loads(self.run_ok([BVTOOL, "ls", self.volume, "--json"]))
        left = sorted(s["id"] for s in listed)
        kept = sorted(s["id"] for snaps in planned.values() for s in snaps if s["keep"])
        self.assertEqual(left, kept)
        self.assertLess(len(kept), sum(len(s) for s in planned.values()))


if __name__ == "__main__":
    unittest.main(verbosity=2)
