#!/usr/bin/env python3
"""bvd's maintenance jobs, its notify hook and a reload with jobs, through a real bvd
(docs/jobs.md): a prune job applies retention and compacts, giving disk space back; a verify job
re-reads a share of the volume per run until a whole pass is done, and fails, naming the place,
when a byte of a segment is damaged; the notify command reads the record of a run that failed
for good as JSON, once per run and not per attempt, and of a run a crash cut short but not of one
that a cancel or bvd's stop ended; SIGHUP replaces the jobs while a run under way
finishes with the command it started with.

Environment: BVD and BVTOOL (the binaries), BV_IO (uring or sync).
"""
import json
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bvd_test  # noqa: E402
from bvd_test import data, make_token, nc_get, nc_push, snapshot_id  # noqa: E402
from jobs_test import JobsCase, fields, job, toml_value  # noqa: E402


def table(kind, name, **opts):
    """A [[tenant.prune]] or [[tenant.verify]] table."""
    return "\n".join(["[[tenant.%s]]" % kind, 'name = "%s"' % name] +
                     ["%s = %s" % (k, toml_value(v)) for k, v in opts.items()])


def unescape(v):
    """A reply field's value as bvd escapes it (%XX)."""
    out, i = bytearray(), 0
    while i < len(v):
        if v[i] == "%":
            out.append(int(v[i + 1:i + 3], 16))
            i += 3
        else:
            out += v[i].encode()
            i += 1
    return out.decode(errors="replace")


class MaintenanceJobsTest(JobsCase):
    def run_wait(self, srv, name):
        out = self.ask(srv, "RUN %s wait=true" % name)
        self.assertTrue(out[-1].startswith("OK finished=%s" % name), out)
        return fields([l for l in out if l.startswith("RUN ")][0])

    def push(self, srv, source, payload):
        rc, reply = nc_push(srv.port, "shop", self.tok["push"]["token"], source, payload)
        self.assertEqual(rc, 0, reply)
        return snapshot_id(reply)

    def wait_running(self, srv, name):
        deadline = time.time() + 30
        while self.jobs(srv)[name]["state"] != "running" and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.jobs(srv)[name]["state"], "running")
        time.sleep(0.5)  # its command has started

    def df(self, srv):
        out = self.ask(srv, "DF", "read")
        return fields(out[-1])

    def test_a_prune_job_applies_retention_and_compaction_frees_the_space(self):
        srv = self.start("retention = { keep_last = 1 }\n" + table("prune", "tidy", schedule="@daily") + "\n" +
                         table("prune", "only-prune", compact=False, sources=["files/a", "files/none"]),
                         segment_mib=1)
        nights = [data(3 << 20, 40 + i) for i in range(3)]
        ids = [self.push(srv, "files/a", n) for n in nights]
        before = int(self.df(srv)["disk"])
        # Without compaction: the snapshots go, the disk stays.
        run = self.run_wait(srv, "only-prune")
        self.assertEqual(run["result"], "ok", run)
        report = unescape(run["stderr"])
        self.assertIn("files/none: no snapshots", report)
        self.assertIn("files/a: 2 of 3 snapshots to remove (--keep-last 1", report)
        self.assertIn("pruned 2 snapshots", report)
        self.assertNotIn("compaction", report)
        self.assertEqual(len(self.snapshots(srv, "files/a")), 1)
        self.assertGreaterEqual(int(self.df(srv)["disk"]), before)
        # With it: the space of the two nights pruned comes back.
        self.assertTrue(self.ask(srv, "RUN tidy", "push")[0].startswith("ERR denied"))
        run = self.run_wait(srv, "tidy")
        self.assertEqual(run["result"], "ok", run)
        report = unescape(run["stderr"])
        self.assertIn("files/a: 0 of 1 snapshots to remove (--keep-last 1", report)
        self.assertIn("compaction rewrote", report)
        after = int(self.df(srv)["disk"])
        # Two of the three nights' 3 MiB of random bytes are gone from the disk.
        self.assertLess(after, before - (5 << 20), (before, after))
        self.assertEqual(nc_get(srv.port, "shop", self.tok["read"]["token"], ids[2]), nights[2])
        j = self.jobs(srv)["tidy"]
        self.assertEqual((j["kind"], j["source"], j["last"]), ("prune", "-", "ok"))
        self.assertNotEqual(j["next"], "-")

    def test_a_verify_job_covers_the_volume_in_shares_and_fails_on_damage(self):
        notified = os.path.join(self.tmp, "notified.json")
        srv = self.start(table("verify", "check", share="1/3", retries=2, retry_delay="0s"), segment_mib=1,
                         notify_shell="cat >> %s" % notified)
        ids = [self.push(srv, "files/%d" % i, data(1536 << 10, 60 + i)) for i in range(4)]
        ranges = []
        for _ in range(5):
            run = self.run_wait(srv, "check")
            self.assertEqual(run["result"], "ok", run)
            report = unescape(run["stderr"])
            ranges.append(report.splitlines()[0])
            if "a whole pass over the volume ended" in report:
                break
        self.assertIn(len(ranges), (3, 4), ranges)  # a third at a time, in whole segments
        self.assertTrue(ranges[0].startswith("checked segments 1.."), ranges)
        self.assertEqual(len(set(ranges)), len(ranges), ranges)
        self.assertFalse(os.path.exists(notified))
        # A flipped byte in the middle of the first segment: the next pass's first run finds it.
        seg = os.path.join(srv.data, "tenants", "shop", "segments", "seg-000000000001.bvs")
        with open(seg, "r+b") as f:
            f.seek(os.path.getsize(seg) // 2)
            b = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([b[0] ^ 0x10]))
        run = self.run_wait(srv, "check")
        # Damage is not retried: a retry would check the next share and could end the run ok.
        self.assertEqual((run["result"], run["attempt"]), ("failed", "1"), run)
        self.assertIn("verify found 1 damaged ranges", unescape(run["error"]))
        self.assertIn("1 chunks quarantined", unescape(run["error"]))
        report = unescape(run["stderr"])
        self.assertIn("segment seg-000000000001.bvs offset", report)
        self.assertIn("snapshots " + ids[0], report)
        # The notify command read the record.
        deadline = time.time() + 10
        while not os.path.exists(notified) and time.time() < deadline:
            time.sleep(0.05)
        with open(notified) as f:
            told = [json.loads(l) for l in f]
        self.assertEqual(len(told), 1, told)
        self.assertEqual((told[0]["tenant"], told[0]["job"], told[0]["kind"], told[0]["result"]),
                         ("shop", "check", "verify", "failed"))
        self.assertIn("verify found 1 damaged ranges", told[0]["error"])
        self.assertIsNone(told[0]["source"])

    def test_notify_runs_once_per_failed_run_not_per_attempt(self):
        notified = os.path.join(self.tmp, "notified.json")
        srv = self.start(job("flaky", [("x", "echo broken >&2; exit 3")], retries=2, retry_delay="1s"),
                         notify_shell='cat >> %s; echo "$BV_TENANT $BV_JOB $BV_RESULT" >> %s.env' % (notified, notified))
        run = self.run_wait(srv, "flaky")
        self.assertEqual((run["result"], run["attempt"], run["exit"]), ("failed", "3", "3"))
        deadline = time.time() + 10
        while not os.path.exists(notified + ".env") and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        with open(notified) as f:
            told = [json.loads(l) for l in f]
        self.assertEqual(len(told), 1, told)
        t = told[0]
        self.assertEqual((t["job"], t["kind"], t["source"], t["attempt"], t["attempts"], t["exit_status"]),
                         ("flaky", "backup", "jobs/flaky", 3, 3, 3))
        self.assertEqual((t["trigger"], t["result"], t["snapshot"]), ("retry", "failed", None))
        self.assertEqual(t["stderr_tail"], "broken\n")
        self.assertTrue(t["start"].endswith("Z") and t["end"].endswith("Z"), t)
        with open(notified + ".env") as f:
            self.assertEqual(f.read(), "shop flaky failed\n")
        # A notify command that fails is logged; the run's record does not change.
        srv2 = self.start(job("bad", [("x", "exit 1")]), name="b", notify=["false"])
        self.assertEqual(self.run_wait(srv2, "bad")["result"], "failed")
        deadline = time.time() + 10
        while "the notify command for job bad failed" not in srv2.log_text() and time.time() < deadline:
            time.sleep(0.05)
        self.assertIn("the notify command for job bad failed: false exited with status 1", srv2.log_text())

    def test_notify_tells_of_a_run_a_crash_cut_short_but_not_of_a_stop_or_a_cancel(self):
        notified = os.path.join(self.tmp, "notified.json")
        srv = self.start(job("long", [("a", "seq 1 1000; sleep 600")]), notify_shell="cat >> %s" % notified)
        self.assertEqual(self.ask(srv, "RUN long"), ["OK started=long"])
        self.wait_running(srv, "long")
        self.assertEqual(self.ask(srv, "CANCEL long"), ["OK cancelled=long"])
        self.wait_idle(srv, "long")
        self.assertEqual(self.ask(srv, "RUN long"), ["OK started=long"])
        self.wait_running(srv, "long")
        srv.stop()  # SIGTERM: the run is interrupted by bvd's own stop
        srv.start()
        self.assertEqual(self.history(srv, "long")[0]["result"], "interrupted")
        self.assertFalse(os.path.exists(notified))
        self.assertEqual(self.ask(srv, "RUN long"), ["OK started=long"])
        self.wait_running(srv, "long")
        srv.stop(sig=signal.SIGKILL)
        srv.start()
        with open(notified) as f:
            told = [json.loads(l) for l in f]
        self.assertEqual([(t["job"], t["result"]) for t in told], [("long", "interrupted")])
        self.assertIn("bvd stopped during the run", told[0]["error"])
        self.ask(srv, "CANCEL long")

    def test_sighup_replaces_the_jobs_and_a_run_under_way_finishes_as_it_began(self):
        self.tok = {role: make_token(role) for role in ("admin", "read", "push")}
        tenants = {"shop": {"tokens": list(self.tok.values()),
                            "toml": job("slow", [("x", "sleep 4; printf before")])}}
        srv = self.server(tenants)
        self.assertEqual(self.ask(srv, "RUN slow"), ["OK started=slow"])
        tenants["shop"]["toml"] = (job("slow", [("x", "printf after")]) + "\n" +
                                   table("verify", "check", schedule="@daily"))
        srv.write_config(tenants)
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while "configuration reloaded" not in srv.log_text() and time.time() < deadline:
            time.sleep(0.05)
        listed = self.jobs(srv)
        self.assertEqual(sorted(listed), ["check", "slow"])
        self.assertEqual(listed["slow"]["state"], "running")
        runs = self.wait_idle(srv, "slow")
        self.assertEqual(runs[0]["result"], "ok", runs)
        self.assertEqual(nc_get(srv.port, "shop", self.tok["read"]["token"], runs[0]["snapshot"]), b"before")
        run = self.run_wait(srv, "slow")
        self.assertEqual(nc_get(srv.port, "shop", self.tok["read"]["token"], run["snapshot"]), b"after")


if __name__ == "__main__":
    unittest.main(verbosity=2)
