#!/usr/bin/env python3
"""bvtool compact killed with SIGKILL at random moments (docs/format-spec.md §12, [CMP-3]..[CMP-5]).

Each round adds two nights of a changing dump, prunes to the last two, and starts a throttled
compaction that is killed at a random moment. After every kill: fsck is clean and every kept
snapshot restores byte-exact. At the end compaction finishes the job, and an index rebuilt from
the segments lists exactly the kept snapshots.

Environment: BVTOOL, BV_IO (uring or sync).
"""
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

BVTOOL = os.environ.get("BVTOOL", "build/bvtool")
IO = os.environ.get("BV_IO", "uring")
ROUNDS = 28
MIB = 1 << 20


def blob(n, seed):
    return random.Random(seed).randbytes(n)


def night(n):
    """Night n: the first night's bytes with a quarter rewritten, and a little appended."""
    d = bytearray(blob(3 * MIB, 1))
    for i in range(max(0, n - 3), n + 1):  # the last few nights' changes: older ones have rolled over
        fresh = blob(3 * MIB // 4, 100 + i)
        at = (i * 331 * 1024) % (len(d) - len(fresh))
        d[at:at + len(fresh)] = fresh
    return bytes(d) + blob(32 << 10, 1000 + n)


class CompactKillTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bv-compact-kill-")
        self.vol = os.path.join(self.tmp, "vol")
        self.env = dict(os.environ, BV_KEY_FILE=os.path.join(self.tmp, "master.key"), BV_IO=IO)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def tool(self, *args, check=True):
        p = subprocess.run([BVTOOL, *args], capture_output=True, env=self.env)
        if check:
            self.assertEqual(p.returncode, 0, (args, p.stdout[-2000:], p.stderr[-2000:]))
        return p

    def listed(self):
        return {s["id"]: s for s in json.loads(self.tool("ls", self.vol, "--json").stdout)}

    def check_kept(self, kept):
        fsck = self.tool("fsck", self.vol, check=False)
        self.assertEqual(fsck.returncode, 0, fsck.stdout.decode() + fsck.stderr.decode())
        listed = self.listed()
        self.assertEqual(sorted(s["time"] for s in listed.values()), sorted(kept))
        by_time = {s["time"]: sid for sid, s in listed.items()}
        for t, payload in kept.items():
            out = os.path.join(self.tmp, "out")
            self.tool("get", self.vol, by_time[t], "-o", out)
            with open(out, "rb") as f:
                self.assertTrue(f.read() == payload, "the snapshot of %s restores different bytes" % t)

    def test_sigkill_at_random_moments_loses_nothing_kept(self):
        self.tool("init", self.vol, "--segment-mib", "1")
        rng = random.Random(int(os.environ.get("BV_TEST_SEED", "17")))
        kept = {}
        n = 0
        kills = 0
        for round_ in range(ROUNDS):
            for _ in range(2):
                t = "2026-%02d-%02dT03:00:00Z" % (1 + n // 28, 1 + n % 28)
                payload = night(n)
                path = os.path.join(self.tmp, "in")
                with open(path, "wb") as f:
                    f.write(payload)
                self.tool("put", self.vol, "db/orders", path, "--time", t)
                kept[t] = payload
                n += 1
            self.tool("prune", self.vol, "--keep-last", "2")
            kept = dict(sorted(kept.items())[-2:])
            p = subprocess.Popen([BVTOOL, "compact", self.vol, "--max-rate", "1"], env=self.env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.0, 1.0))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                kills += 1
            p.wait()
            with self.subTest(round=round_):
                self.check_kept(kept)
        self.assertGreaterEqual(kills, 20, "fewer than 20 compactions were killed before they finished")
        # The next compactions finish the job: what is left is about what the two nights need.
        for _ in range(4):
            report = json.loads(self.tool("compact", self.vol, "--json").stdout)
            if not report["rewrite"]:
                break
        self.assertEqual(report["rewrite"], [])
        df = json.loads(self.tool("df", self.vol, "--json").stdout)
        self.assertLess(df["disk_bytes"], df["live_bytes"] + 3 * MIB, df)
        self.check_kept(kept)
        self.tool("fsck", self.vol, "--rebuild-index")
        self.check_kept(kept)
        print("compaction killed %d times in %d rounds" % (kills, ROUNDS))


if __name__ == "__main__":
    unittest.main(verbosity=2)
