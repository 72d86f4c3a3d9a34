#!/usr/bin/env python3
"""PRUNE through a real bvd (docs/protocol.md §8, docs/retention.md): who may prune, the request's
keep options against the configured policies, dry runs, bvtool prune --server, pruning while a
push and a restore run, and a rebuilt index that does not bring a pruned snapshot back.

Environment: BVD and BVTOOL (the binaries), BV_IO (uring or sync).
"""
import json
import os
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bvd_test  # noqa: E402
from bvd_test import BVTOOL, data, make_token, nc_get, nc_push, request, snapshot_id  # noqa: E402

DAYS = ["2026-11-%02dT03:00:00Z" % d for d in (20, 21, 22, 23, 24)]
CONFIG = """retention = { keep_last = 3 }
[[tenant.source]]
name = "pg/keep"
retention = { keep_daily = 1, min_keep = 2 }
"""


class PruneTest(unittest.TestCase):
    setUp = bvd_test.BvdTest.setUp
    tearDown = bvd_test.BvdTest.tearDown
    server = bvd_test.BvdTest.server

    def start(self):
        self.tok = {role: make_token(role) for role in ("admin", "push", "read")}
        self.crm = make_token("admin")
        tenants = {"shop": {"tokens": list(self.tok.values()), "toml": CONFIG},
                   "crm": {"tokens": [self.crm], "append_only": True}}
        srv = self.server(tenants)
        for source in ("pg/orders", "pg/keep"):
            for t in DAYS:
                rc, reply = nc_push(srv.port, "shop", self.tok["admin"]["token"], source, data(4096, hash(t) & 0xffff),
                                    "time=" + t)
                self.assertIsNotNone(snapshot_id(reply), reply)
        return srv

    def prune(self, srv, line, role="admin", tenant="shop"):
        token = self.crm["token"] if tenant == "crm" else self.tok[role]["token"]
        out = request(srv.port, tenant, token, [line])  # AUTH is silent when it succeeds
        return out[:-1] if out and out[-1] == "OK bye" else out

    def count(self, srv, source):
        lines = request(srv.port, "shop", self.tok["read"]["token"], ["LIST " + source])
        return len([l for l in lines if l.startswith("SNAPSHOT ")])

    def test_only_an_admin_prunes_and_never_an_append_only_tenant(self):
        srv = self.start()
        for role in ("push", "read"):
            out = self.prune(srv, "PRUNE pg/orders keep_last=1", role)
            self.assertTrue(out[0].startswith("ERR denied"), out)
        out = self.prune(srv, "PRUNE keep_last=1", tenant="crm")
        self.assertIn("append-only", out[0])
        for bad in ("PRUNE pg/orders keep_daily=x", "PRUNE pg/orders keep_within=3q", "PRUNE pg/orders min_keep=2",
                    "PRUNE pg/orders keep_daily=0", "PRUNE nosuch keep_last=1", "PRUNE pg/orders keep_hourly=1 x=1"):
            out = self.prune(srv, bad)
            self.assertTrue(out[-1].startswith("ERR "), (bad, out))
        self.assertEqual(self.count(srv, "pg/orders"), 5)

    def test_a_dry_run_says_what_the_prune_then_does(self):
        srv = self.start()
        out = self.prune(srv, "PRUNE pg/orders keep_daily=2 dry_run=true")
        decisions = [l for l in out if l.startswith("DECISION ")]
        self.assertEqual(len(decisions), 5, out)
        self.assertIn("keep=true reasons=daily%20snapshot", decisions[0])
        self.assertIn("time=2026-11-24T03:00:00Z", decisions[0])
        self.assertEqual(out[-1], "OK sources=1 kept=2 removed=0 dry_run=true")
        self.assertEqual(self.count(srv, "pg/orders"), 5)
        # bvtool prune --server does it, and says what it did.
        token_file = os.path.join(self.tmp, "admin.token")
        with open(token_file, "w") as f:
            f.write(self.tok["admin"]["token"])
        p = subprocess.run([BVTOOL, "prune", "pg/orders", "--keep-daily", "2", "--json", "--server",
                            "127.0.0.1:%d" % srv.port, "--tenant", "shop", "--token-file", token_file],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        report = json.loads(p.stdout)
        self.assertEqual([(s["kept"], s["removed"]) for s in report["sources"]], [(2, 3)])
        self.assertEqual(self.count(srv, "pg/orders"), 2)
        self.assertEqual(self.count(srv, "pg/keep"), 5)

    def test_without_keep_options_each_source_has_its_configured_policy(self):
        srv = self.start()
        out = self.prune(srv, "PRUNE")
        self.assertEqual(out[-1], "OK sources=2 kept=5 removed=5 dry_run=false", out)
        # pg/keep: keep_daily = 1 with min_keep = 2; pg/orders: the tenant's keep_last = 3.
        self.assertEqual(self.count(srv, "pg/keep"), 2)
        self.assertEqual(self.count(srv, "pg/orders"), 3)
        self.assertIn("reasons=min_keep%202", [l for l in out if "pg/keep" in l][1], out)
        # What is left restores, and a rebuilt index brings nothing back.
        self.assertEqual(nc_get(srv.port, "shop", self.tok["read"]["token"], "pg/orders@2026-11-22T03:00:00Z"),
                         data(4096, hash(DAYS[2]) & 0xffff))
        srv.stop()
        volume = os.path.join(srv.data, "tenants", "shop")
        subprocess.run([BVTOOL, "fsck", volume, "--rebuild-index"], check=True, capture_output=True)
        listed = json.loads(subprocess.run([BVTOOL, "ls", volume, "--json"], check=True, capture_output=True,
                                           text=True).stdout)
        self.assertEqual(sorted(s["source"] for s in listed), ["pg/keep"] * 2 + ["pg/orders"] * 3)

    def test_a_prune_beside_a_push_and_a_restore_leaves_both_whole(self):
        srv = self.start()
        big = data(48 << 20, 5)
        rc, reply = nc_push(srv.port, "shop", self.tok["admin"]["token"], "pg/big", big)
        self.assertIsNotNone(snapshot_id(reply), reply)
        results = {}

        def push():
            results["push"] = nc_push(srv.port, "shop", self.tok["push"]["token"], "pg/new", data(48 << 20, 6))

        def restore():
            results["restore"] = nc_get(srv.port, "shop", self.tok["read"]["token"], "pg/big")

        threads = [threading.Thread(target=f) for f in (push, restore)]
        for t in threads:
            t.start()
        out = self.prune(srv, "PRUNE pg/orders pg/keep keep_last=1")
        for t in threads:
            t.join()
        # pg/keep's configured min_keep = 2 is a floor under the request's policy.
        self.assertEqual(out[-1], "OK sources=2 kept=3 removed=7 dry_run=false", out)
        self.assertIn("reasons=min_keep%202", [l for l in out if "pg/keep" in l][1])
        self.assertIsNotNone(snapshot_id(results["push"][1]), results["push"])
        self.assertEqual(results["restore"], big)
        self.assertEqual(nc_get(srv.port, "shop", self.tok["read"]["token"], "pg/new"), data(48 << 20, 6))


if __name__ == "__main__":
    unittest.main(verbosity=2)
