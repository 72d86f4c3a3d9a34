#!/usr/bin/env python3
"""COMPACT and DF through a real bvd (docs/protocol.md §8, docs/format-spec.md §12): who may
compact, prune and compaction beside a push and a restore, a quota and a full disk that compaction
gives back, and bvtool compact / df --server.

Environment: BVD and BVTOOL (the binaries), BV_IO (uring or sync).
"""
import json
import os
import re
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bvd_test  # noqa: E402
from bvd_test import BVTOOL, Bvd, data, make_token, nc_get, nc_push, raw, request, snapshot_id  # noqa: E402

MIB = 1 << 20


def night(n, size=6 * MIB):
    """Night n of a changing dump: night 0's bytes with a sixth rewritten and a little added."""
    d = bytearray(data(size, 900))
    for i in range(1, n + 1):
        fresh = data(size // 6, 900 + i)
        at = (i * 397 * 1024) % (len(d) - len(fresh))
        d[at:at + len(fresh)] = fresh
        d += data(64 << 10, 950 + i)
    return bytes(d)


def ok_fields(line):
    return dict(kv.split("=", 1) for kv in line.split()[1:])


class CompactTest(unittest.TestCase):
    setUp = bvd_test.BvdTest.setUp
    tearDown = bvd_test.BvdTest.tearDown
    server = bvd_test.BvdTest.server

    def start(self, **fields):
        self.tok = {role: make_token(role) for role in ("admin", "push", "read")}
        tenant = dict({"segment_mib": 2, "tokens": list(self.tok.values())}, **fields)
        return self.server({"shop": tenant})

    def ask(self, srv, line, role="admin"):
        out = request(srv.port, "shop", self.tok[role]["token"], [line], timeout=120)
        return out[:-1] if out and out[-1] == "OK bye" else out

    def push_nights(self, srv, n, source="pg/orders"):
        nights = {}
        for i in range(n):
            rc, reply = nc_push(srv.port, "shop", self.tok["admin"]["token"], source, night(i),
                                "time=2026-11-%02dT03:00:00Z" % (i + 1))
            self.assertIsNotNone(snapshot_id(reply), reply)
            nights[i] = night(i)
        return nights

    def df(self, srv):
        out = self.ask(srv, "DF", "read")
        self.assertTrue(out[-1].startswith("OK disk="), out)
        return {k: int(v) for k, v in ok_fields(out[-1]).items()}

    def test_only_an_admin_compacts_and_bad_options_are_refused(self):
        srv = self.start()
        self.push_nights(srv, 2)
        for role in ("push", "read"):
            out = self.ask(srv, "COMPACT", role)
            self.assertTrue(out[0].startswith("ERR denied"), out)
        self.assertTrue(self.ask(srv, "DF", "push")[0].startswith("ERR denied"))
        for bad in ("COMPACT threshold=0", "COMPACT threshold=101", "COMPACT threshold=x", "COMPACT max_rate=0",
                    "COMPACT dry_run=maybe", "COMPACT extra", "COMPACT colour=red"):
            out = self.ask(srv, bad)
            self.assertTrue(out[-1].startswith("ERR "), (bad, out))
        before = self.df(srv)
        out = self.ask(srv, "COMPACT dry_run=true")
        self.assertIn("dry_run=true", out[-1])
        self.assertEqual(self.df(srv)["disk"], before["disk"])

    def test_prune_and_compact_beside_a_push_and_a_restore_give_the_space_back(self):
        srv = self.start()
        nights = self.push_nights(srv, 6)
        before = self.df(srv)
        out = self.ask(srv, "PRUNE pg/orders keep_last=2")
        self.assertIn("removed=4", out[-1])
        debt = self.df(srv)
        self.assertLess(abs(debt["disk"] - before["disk"]), 64 << 10, "a prune alone frees nothing")
        self.assertGreater(debt["reclaimable"], 4 * MIB, debt)
        results = {}
        big = data(24 * MIB, 77)

        def push():
            results["push"] = nc_push(srv.port, "shop", self.tok["push"]["token"], "pg/new", big)

        def restore():
            results["restore"] = nc_get(srv.port, "shop", self.tok["read"]["token"], "pg/orders")

        threads = [threading.Thread(target=f) for f in (push, restore)]
        for t in threads:
            t.start()
        # Slow enough that both run through it; bvtool as the client, with its JSON.
        token_file = os.path.join(self.tmp, "admin.token")
        with open(token_file, "w") as f:
            f.write(self.tok["admin"]["token"])
        p = subprocess.run([BVTOOL, "compact", "--json", "--max-rate", "4", "--server", "127.0.0.1:%d" % srv.port,
                            "--tenant", "shop", "--token-file", token_file], capture_output=True, text=True)
        for t in threads:
            t.join()
        self.assertEqual(p.returncode, 0, p.stderr)
        report = json.loads(p.stdout)
        print("compaction beside a push and a restore: %d segments removed, %d bytes copied, %d freed" %
              (report["segments_removed"], report["bytes_copied"], report["bytes_freed"]), file=sys.stderr)
        self.assertGreater(report["segments_removed"], 0, report)
        self.assertGreater(report["bytes_freed"], 4 * MIB, report)
        self.assertIsNotNone(snapshot_id(results["push"][1]), results["push"])
        self.assertEqual(results["restore"], nights[5])
        self.assertEqual(nc_get(srv.port, "shop", self.tok["read"]["token"], "pg/new"), big)
        self.assertEqual(nc_get(srv.port, "shop", self.tok["read"]["token"], "pg/orders@2026-11-05T03:00:00Z"),
                         nights[4])
        after = self.df(srv)
        self.assertLess(after["disk"], before["disk"] + len(big) - 4 * MIB, (before, after))
        p = subprocess.run([BVTOOL, "df", "--json", "--server", "127.0.0.1:%d" % srv.port, "--tenant", "shop",
                            "--token-file", token_file], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        sources = {s["source"]: s for s in json.loads(p.stdout)["sources"]}
        self.assertEqual(sorted(sources), ["pg/new", "pg/orders"])
        # pg/new shares no chunk with pg/orders: all it needs is its own; pg/orders needs its two
        # nights, of which night 5 alone holds most.
        self.assertGreater(sources["pg/new"]["stored_bytes"], len(big))
        self.assertEqual(sources["pg/new"]["unique_bytes"], sources["pg/new"]["stored_bytes"])
        self.assertGreater(sources["pg/orders"]["stored_bytes"], len(nights[5]))
        self.assertLess(sources["pg/orders"]["stored_bytes"], len(nights[5]) + len(nights[4]))
        self.assertEqual(sources["pg/orders"]["unique_bytes"], sources["pg/orders"]["stored_bytes"])
        self.assertLessEqual(sources["pg/new"]["stored_bytes"] + sources["pg/orders"]["stored_bytes"], after["live"])
        # The volume is whole: fsck is clean and a rebuilt index lists what was kept.
        srv.stop()
        volume = os.path.join(srv.data, "tenants", "shop")
        fsck = subprocess.run([BVTOOL, "fsck", volume], capture_output=True, text=True)
        self.assertEqual(fsck.returncode, 0, fsck.stdout + fsck.stderr)
        subprocess.run([BVTOOL, "fsck", volume, "--rebuild-index"], check=True, capture_output=True)
        listed = json.loads(subprocess.run([BVTOOL, "ls", volume, "--json"], check=True, capture_output=True,
                                           text=True).stdout)
        self.assertEqual(sorted(s["source"] for s in listed), ["pg/new", "pg/orders", "pg/orders"])

    def test_bvtool_prune_compact_prunes_then_compacts_in_one_run(self):
        srv = self.start()
        nights = self.push_nights(srv, 5)
        before = self.df(srv)
        token_file = os.path.join(self.tmp, "admin.token")
        with open(token_file, "w") as f:
            f.write(self.tok["admin"]["token"])
        remote = ["--server", "127.0.0.1:%d" % srv.port, "--tenant", "shop", "--token-file", token_file]
        p = subprocess.run([BVTOOL, "prune", "pg/orders", "--keep-last", "2", "--compact", "--dry-run"] + remote,
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("--compact with --dry-run", p.stderr)
        p = subprocess.run([BVTOOL, "prune", "pg/orders", "--keep-last", "2", "--compact", "--json"] + remote,
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        doc = json.loads(p.stdout)
        self.assertEqual(doc["removed"], 3, doc)
        self.assertGreater(doc["compact"]["segments_removed"], 0, doc)
        self.assertGreater(doc["compact"]["bytes_freed"], 2 * MIB, doc)
        after = self.df(srv)
        self.assertLess(after["disk"], before["disk"] - 2 * MIB, (before, after))
        for n in (3, 4):
            self.assertEqual(nc_get(srv.port, "shop", self.tok["read"]["token"], "pg/orders@2026-11-%02dT03:00:00Z" % (n + 1)),
                             nights[n])
        p = subprocess.run([BVTOOL, "prune", "pg/orders", "--keep-last", "2", "--compact"] + remote,
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("removed 0 snapshots of 1 sources\n", p.stdout)
        self.assertRegex(p.stdout, r"removed \d+ of \d+ segments chosen, copied .* forward, freed ")

    def test_a_tenant_over_its_quota_pushes_again_after_prune_and_compact(self):
        srv = self.start(quota_bytes=16 * MIB)
        tok = self.tok["admin"]["token"]

        def used():
            return int(re.search(r"used=(\d+)", raw(srv.port, ("AUTH shop %s\nSTAT\n" % tok).encode())).group(1))

        pushed = 0
        for i in range(10):
            rc, reply = nc_push(srv.port, "shop", tok, "logs/app", data(3 * MIB, 300 + i))
            if "ERR quota" in reply:
                break
            self.assertIsNotNone(snapshot_id(reply), reply)
            pushed += 1
        self.assertIn("ERR quota", reply)
        self.assertGreaterEqual(pushed, 3)
        full = used()
        self.assertIn("removed=%d" % (pushed - 1), self.ask(srv, "PRUNE logs/app keep_last=1")[-1])
        self.assertGreaterEqual(used(), full, "a prune alone frees nothing (it adds its deletion records)")
        out = self.ask(srv, "COMPACT")
        self.assertTrue(out[-1].startswith("OK "), out)
        self.assertLess(used(), full - 2 * 3 * MIB, out)
        rc, reply = nc_push(srv.port, "shop", tok, "logs/app", data(3 * MIB, 400))
        self.assertIsNotNone(snapshot_id(reply), reply)

    def test_a_full_disk_is_given_back_by_prune_and_compact(self):
        mnt = os.path.join(self.tmp, "small-fs")
        os.makedirs(mnt)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", mnt], capture_output=True).returncode:
            self.skipTest("cannot mount a small tmpfs here (needs root)")
        try:
            self.tok = {role: make_token(role) for role in ("admin", "push", "read")}
            srv = Bvd(mnt, {"shop": {"segment_mib": 1, "tokens": list(self.tok.values())}}, "disk_reserve_mib = 8")
            srv.keys = os.path.join(self.tmp, "keys")  # outside the small file system
            srv.env["BV_KEY_DIR"] = srv.keys
            self.servers.append(srv)
            srv.start()
            tok = self.tok["admin"]["token"]

            def free():
                st = os.statvfs(mnt)
                return st.f_bavail * st.f_frsize

            kept = None
            n = 0
            while free() > 17 * MIB:
                payload = data(4 * MIB, 500 + n)
                rc, reply = nc_push(srv.port, "shop", tok, "db/big", payload)
                self.assertIsNotNone(snapshot_id(reply), reply)
                kept, n = payload, n + 1
            # Pushes side by side take no more of the reserve than one look at the free space lets
            # through (4 MiB), whatever their number: 8 × 6 MiB into about 12 MiB above the reserve.
            results = []
            threads = [threading.Thread(target=lambda k=k: results.append(
                nc_push(srv.port, "shop", tok, "db/many%d" % k, data(6 * MIB, 700 + k)))) for k in range(8)]
            lowest = [free()]
            done = threading.Event()

            def sample():
                while not done.is_set():
                    lowest[0] = min(lowest[0], free())
                    time.sleep(0.002)

            sampler = threading.Thread(target=sample)
            sampler.start()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            done.set()
            sampler.join()
            self.assertGreaterEqual(lowest[0], 8 * MIB - 4 * MIB - MIB, results)
            self.assertTrue(any("ERR no-space" in r[1] for r in results), results)
            for i in range(40):
                payload = data(4 * MIB, 600 + i)
                rc, reply = nc_push(srv.port, "shop", tok, "db/big", payload)
                if "ERR no-space" in reply:
                    break
                self.assertIsNotNone(snapshot_id(reply), reply)
                kept = payload
            self.assertIn("ERR no-space", reply)
            self.assertIn("kept for prune and compaction", reply)
            free_full = free()
            for source in ["db/big"] + ["db/many%d" % k for k in range(8)]:
                out = self.ask(srv, "PRUNE %s keep_last=1" % source)
                self.assertTrue(out[-1].startswith("OK ") or "has no snapshot" in out[-1], out)
            out = self.ask(srv, "COMPACT")
            self.assertTrue(out[-1].startswith("OK "), out)
            free_after = os.statvfs(mnt).f_bavail * os.statvfs(mnt).f_frsize
            self.assertGreater(free_after, free_full + 24 * MIB, out)
            self.assertEqual(nc_get(srv.port, "shop", tok, "db/big"), kept)
            rc, reply = nc_push(srv.port, "shop", tok, "db/big", data(4 * MIB, 800))
            self.assertIsNotNone(snapshot_id(reply), reply)
            self.assertEqual(srv.stop(), 0)
        finally:
            subprocess.run(["umount", "-l", mnt])


if __name__ == "__main__":
    unittest.main(verbosity=2)
