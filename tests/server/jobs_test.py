#!/usr/bin/env python3
"""bvd's backup jobs through a real bvd (docs/jobs.md, docs/protocol.md §8): a job of two streams
run on request is one snapshot that restores byte-exact; failing, hanging and signalled commands
leave no snapshot and a record that says why; retries back off and a job that succeeds on its
third attempt commits exactly one snapshot; a scheduled job runs on its own; bvd killed with
SIGKILL while a job runs: the half-taken snapshot is not listed, the run is recorded as
interrupted, and the job runs again.

Environment: BVD and BVTOOL (the binaries), BV_IO (uring or sync).
"""
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bvd_test  # noqa: E402
from bvd_test import BVTOOL, make_token, nc_get, request  # noqa: E402
from commands_test import Postgres  # noqa: E402


def fields(line):
    return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)


def toml_value(v):
    if isinstance(v, str):
        return "'''%s'''" % v
    if isinstance(v, list):
        return "[%s]" % ", ".join(toml_value(x) for x in v)
    if isinstance(v, dict):
        return "{ %s }" % ", ".join("%s = %s" % (k, toml_value(x)) for k, x in v.items())
    return str(v).lower()


def job(name, streams, **opts):
    """A [[tenant.job]] table; streams: [(name, shell text)]."""
    lines = ["[[tenant.job]]", 'name = "%s"' % name, 'source = "jobs/%s"' % name]
    for k, v in opts.items():
        lines.append("%s = %s" % (k, toml_value(v)))
    for sname, shell in streams:
        lines += ["[[tenant.job.stream]]", 'name = "%s"' % sname, "shell = '''%s'''" % shell]
    return "\n".join(lines)


def restore(name, **opts):
    """A [[tenant.restore]] table."""
    return "\n".join(["[[tenant.restore]]", 'name = "%s"' % name] +
                     ["%s = %s" % (k, toml_value(v)) for k, v in opts.items()])


class JobsCase(unittest.TestCase):
    """A bvd with one tenant, shop, and what the jobs tests ask of it; no tests of its own."""
    setUp = bvd_test.BvdTest.setUp
    tearDown = bvd_test.BvdTest.tearDown
    server = bvd_test.BvdTest.server

    def start(self, jobs_toml, name="a", **fields_):
        self.tok = {role: make_token(role) for role in ("admin", "read", "push")}
        tenant = dict({"tokens": list(self.tok.values()), "toml": jobs_toml}, **fields_)
        return self.server({"shop": tenant}, name=name)

    def ask(self, srv, line, role="admin"):
        out = request(srv.port, "shop", self.tok[role]["token"], [line], timeout=60)
        return out[:-1] if out and out[-1] == "OK bye" else out

    def jobs(self, srv):
        out = self.ask(srv, "JOBS", "read")
        self.assertTrue(out[-1].startswith("OK jobs="), out)
        return {fields(l)["name"]: fields(l) for l in out if l.startswith("JOB ")}

    def history(self, srv, name):
        out = self.ask(srv, "HISTORY %s limit=50" % name, "read")
        self.assertTrue(out[-1].startswith("OK runs="), out)
        return [fields(l) for l in out if l.startswith("RUN ")]

    def wait_idle(self, srv, name, runs=1, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            j = self.jobs(srv)[name]
            if j["state"] == "idle" and len(self.history(srv, name)) >= runs and j["last"] != "running":
                return self.history(srv, name)
            time.sleep(0.1)
        self.fail("job %s did not finish: %s" % (name, self.jobs(srv)[name]))

    def bvtool(self, srv, *args, role="admin"):
        token_file = os.path.join(self.tmp, role + ".token")
        with open(token_file, "w") as f:
            f.write(self.tok[role]["token"])
        return subprocess.run([BVTOOL, *args, "--server", "127.0.0.1:%d" % srv.port, "--tenant", "shop",
                               "--token-file", token_file], capture_output=True, text=True, timeout=60)

    def snapshots(self, srv, source):
        out = self.ask(srv, "LIST %s" % source, "read")
        return [l for l in out if l.startswith("SNAPSHOT ")]



class JobsTest(JobsCase):
    def test_a_job_of_two_streams_is_one_snapshot_that_restores(self):
        srv = self.start(job("dump", [("numbers", "seq 1 300000; echo progress >&2"), ("words", "printf hello")]))
        self.assertTrue(self.ask(srv, "RUN dump", "read")[0].startswith("ERR denied"))
        self.assertTrue(self.ask(srv, "RUN dump", "push")[0].startswith("ERR denied"))
        self.assertEqual(self.ask(srv, "RUN dump"), ["OK started=dump"])
        runs = self.wait_idle(srv, "dump")
        self.assertEqual(runs[0]["result"], "ok", runs)
        self.assertEqual(runs[0]["trigger"], "manual")
        self.assertEqual(runs[0]["exit"], "0")
        self.assertEqual(runs[0]["stderr"], "progress%0A")
        numbers = subprocess.run(["seq", "1", "300000"], capture_output=True, check=True).stdout
        self.assertEqual(int(runs[0]["bytes_in"]), len(numbers) + 5)
        snap = runs[0]["snapshot"]
        self.assertEqual(nc_get(srv.port, "shop", self.tok["read"]["token"], snap, "stream=numbers"), numbers)
        self.assertEqual(nc_get(srv.port, "shop", self.tok["read"]["token"], snap, "stream=words"), b"hello")
        j = self.jobs(srv)["dump"]
        self.assertEqual((j["last"], j["last_good_snapshot"], j["next"]), ("ok", snap, "-"))
        self.assertLess(int(j["last_good_age"]), 60, j)
        self.assertTrue(self.ask(srv, "RUN nothing")[0].startswith("ERR not-found"))
        # bvtool as the client.
        p = self.bvtool(srv, "jobs", "--json", role="read")
        self.assertEqual(p.returncode, 0, p.stderr)
        listed = json.loads(p.stdout)
        self.assertEqual([(j["name"], j["last"], j["last_good_snapshot"], j["schedule"]) for j in listed],
                         [("dump", "ok", snap, None)])
        self.assertIsInstance(listed[0]["last_good_age_seconds"], int)
        p = self.bvtool(srv, "jobs", role="read")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"dump +backup +- +- +idle +ok +\S+Z \(\S+ ago\)")
        p = self.bvtool(srv, "job-history", "dump", "--json", role="read")
        self.assertEqual(p.returncode, 0, p.stderr)
        runs = json.loads(p.stdout)
        self.assertEqual((runs[0]["result"], runs[0]["exit_status"], runs[0]["stderr"]), ("ok", 0, "progress\n"))
        p = self.bvtool(srv, "run-job", "dump", role="read")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("denied", p.stderr)
        p = self.bvtool(srv, "run-job", "dump")
        self.assertEqual((p.returncode, p.stdout), (0, "started dump\n"), p.stderr)
        self.wait_idle(srv, "dump", runs=2)
        self.assertEqual(len(self.snapshots(srv, "jobs/dump")), 2)

    def test_failing_hanging_and_signalled_commands_leave_no_snapshot(self):
        srv = self.start("\n".join([
            job("fails", [("a", "echo 'pg_dump: connection refused' >&2; exit 3")]),
            job("hangs", [("a", "echo begun; sleep 600")], timeout="2s"),
            job("killed", [("a", "seq 1 1000; kill -9 $$")]),
        ]), max_jobs=3)
        for name in ("fails", "hangs", "killed"):
            self.assertEqual(self.ask(srv, "RUN %s" % name), ["OK started=%s" % name])
        want = {"fails": ("failed", "3", "exited with status 3"),
                "hangs": ("timed-out", "-", "outlived its timeout of 2 s"),
                "killed": ("failed", "137", "killed by signal 9")}
        for name, (result, exit_status, says) in want.items():
            run = self.wait_idle(srv, name)[0]
            self.assertEqual((run["result"], run["exit"], run["snapshot"]), (result, exit_status, "-"), run)
            self.assertIn(says.replace(" ", "%20"), run["error"])
            self.assertEqual(self.snapshots(srv, "jobs/%s" % name), [])
        self.assertIn("connection%20refused", self.history(srv, "fails")[0]["stderr"])

    def test_a_job_that_succeeds_on_its_third_attempt_commits_one_snapshot(self):
        counter = os.path.join(self.tmp, "attempts")
        script = "n=$(cat %s 2>/dev/null || echo 0); n=$((n+1)); echo $n > %s; " \
                 "[ $n -ge 3 ] || { echo attempt $n fails >&2; exit 1; }; echo third" % (counter, counter)
        srv = self.start(job("flaky", [("a", script)], retries=3, retry_delay="1s", retry_delay_max="2s"))
        self.assertEqual(self.ask(srv, "RUN flaky"), ["OK started=flaky"])
        runs = self.wait_idle(srv, "flaky", runs=3)
        self.assertEqual([(r["attempt"], r["trigger"], r["result"]) for r in reversed(runs)],
                         [("1", "manual", "failed"), ("2", "retry", "failed"), ("3", "retry", "ok")])
        self.assertEqual(len(self.snapshots(srv, "jobs/flaky")), 1)

    def test_runs_beyond_max_jobs_wait_their_turn_in_order(self):
        order = os.path.join(self.tmp, "order")
        srv = self.start("\n".join(
            job(name, [("a", "echo %s >> %s; sleep 1" % (name, order))]) for name in ("first", "second", "third")),
            max_jobs=1)
        for name in ("first", "second", "third"):
            self.assertEqual(self.ask(srv, "RUN %s" % name), ["OK started=%s" % name])
        end = time.time() + 10
        while self.jobs(srv)["first"]["state"] != "running" and time.time() < end:
            time.sleep(0.05)
        states = {name: j["state"] for name, j in self.jobs(srv).items()}
        self.assertEqual(states, {"first": "running", "second": "waiting", "third": "waiting"})
        self.assertTrue(self.ask(srv, "RUN second")[0].startswith("ERR busy"))
        self.assertEqual(self.ask(srv, "CANCEL third"), ["OK cancelled=third"])
        self.wait_idle(srv, "second")
        with open(order) as f:
            self.assertEqual(f.read().split(), ["first", "second"])
        self.assertEqual(self.history(srv, "third"), [], "a run cancelled while it waited never started")

    def test_a_scheduled_job_runs_and_a_cancel_stops_a_run(self):
        srv = self.start("\n".join([job("minutely", [("a", "date")], schedule="* * * * *"),
                                    job("slow", [("a", "sleep 600")])]), max_jobs=2)
        nxt = self.jobs(srv)["minutely"]["next"]
        self.assertRegex(nxt, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:00Z$")
        self.assertEqual(self.ask(srv, "RUN slow"), ["OK started=slow"])
        time.sleep(0.5)
        self.assertTrue(self.ask(srv, "RUN slow")[0].startswith("ERR busy"))
        self.assertEqual(self.ask(srv, "CANCEL slow"), ["OK cancelled=slow"])
        run = self.wait_idle(srv, "slow")[0]
        self.assertEqual((run["result"], run["snapshot"]), ("cancelled", "-"))
        runs = self.wait_idle(srv, "minutely", timeout=75)
        self.assertEqual((runs[0]["trigger"], runs[0]["result"]), ("schedule", "ok"), runs)
        self.assertEqual(runs[0]["scheduled"], nxt)

    def test_sigkill_during_a_run_leaves_no_snapshot_and_an_interrupted_record(self):
        jobs_toml = job("long", [("a", "seq 1 100000; sleep 600")])
        srv = self.start(jobs_toml)
        self.assertEqual(self.ask(srv, "RUN long"), ["OK started=long"])
        time.sleep(1)
        self.assertEqual(self.jobs(srv)["long"]["state"], "running")
        srv.stop(sig=signal.SIGKILL)
        srv.start()
        run = self.history(srv, "long")[0]
        self.assertEqual(run["result"], "interrupted", run)
        self.assertEqual(self.snapshots(srv, "jobs/long"), [])
        self.assertEqual(self.ask(srv, "RUN long"), ["OK started=long"])
        p = self.bvtool(srv, "cancel-job", "long")
        self.assertEqual((p.returncode, p.stdout), (0, "cancelled long\n"), p.stderr)
        self.assertEqual(self.wait_idle(srv, "long", runs=2)[0]["result"], "cancelled")


    def test_pg_dump_and_sqlite_jobs_restore_into_fresh_databases_and_drills_run(self):
        with Postgres(self) as pg:
            pg.psql("postgres", "CREATE DATABASE shop")
            pg.psql("shop", "CREATE TABLE orders (id bigint PRIMARY KEY, placed timestamptz, email text,"
                            " total numeric(12,2)); INSERT INTO orders SELECT i, '2026-01-01'::timestamptz"
                            " + i * interval '1 minute', 'c' || (i * 7919 % 100003) || '@example.com',"
                            " (i * 31 % 100000) / 100.0 FROM generate_series(1::bigint, 50000) i")
            lite = os.path.join(self.tmp, "app.db")
            subprocess.run(["sqlite3", lite, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);"
                            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)"
                            " INSERT INTO notes SELECT i, 'note ' || i || ' ' || hex(randomblob(16)) FROM n;"],
                           check=True)
            restored_lite = os.path.join(self.tmp, "restored.db")
            pgenv = {k: pg.env[k] for k in ("PGHOST", "PGPORT", "PGUSER")}
            psql_into = ["psql", "-X", "-q", "--single-transaction", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null", "-d"]
            count = "test $(psql -X -Atq -d %s -c 'select count(*) from orders') = 50000"
            srv = self.start("\n".join([
                job("pg", [], env=pgenv),
                "[[tenant.job.stream]]", 'command = ["pg_dump", "-d", "shop"]',
                job("lite", []),
                "[[tenant.job.stream]]", "command = ['sqlite3', '%s', '.dump']" % lite,
                restore("pg-restore", source="jobs/pg", env=pgenv, command=psql_into + ["shop_restore"],
                        check_shell=count % "shop_restore"),
                restore("lite-restore", source="jobs/lite", shell="sqlite3 %s" % restored_lite,
                        check=["sqlite3", restored_lite, "PRAGMA integrity_check"]),
                restore("pg-drill", source="jobs/pg", env=pgenv, schedule="* * * * *", backup_first="pg",
                        shell="dropdb --if-exists drill && createdb drill && "
                              "psql -X -q -v ON_ERROR_STOP=1 -o /dev/null -d drill",
                        check_shell=count % "drill"),
                restore("bad-drill", source="jobs/lite", schedule="* * * * *", shell="cat > /dev/null",
                        check_shell="echo 'the check found 0 rows' >&2; exit 4"),
            ]), max_jobs=2)
            for name in ("pg", "lite"):
                p = self.bvtool(srv, "run-job", name, "--wait")
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            pg.psql("postgres", "CREATE DATABASE shop_restore")
            for name, ref in (("pg-restore", "jobs/pg"), ("lite-restore", "jobs/lite")):
                p = self.bvtool(srv, "restore-job", name, ref, "--json")
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertEqual(json.loads(p.stdout)["result"], "ok")

            def dump(db):
                out = subprocess.run(["pg_dump", "-d", db], env=pg.env, capture_output=True, check=True).stdout
                # \restrict and \unrestrict carry a random key per dump (PostgreSQL 15.14 on).
                return b"\n".join(l for l in out.split(b"\n") if not l.startswith((b"\\restrict", b"\\unrestrict")))

            def sqlite_dump(db):
                return subprocess.run(["sqlite3", db, ".dump"], capture_output=True, check=True).stdout

            self.assertEqual(dump("shop_restore"), dump("shop"))
            self.assertEqual(sqlite_dump(restored_lite), sqlite_dump(lite))
            # A restore into a database that is not there fails with psql's words.
            pg.psql("postgres", "DROP DATABASE shop_restore")
            p = self.bvtool(srv, "restore-job", "pg-restore")
            self.assertEqual(p.returncode, 1, p.stdout)
            self.assertIn("shop_restore", p.stderr)
            self.assertIn("pg-restore failed", p.stderr)
            # The drills, on their schedule: one passes (after its safety backup), one's check fails.
            drill = self.wait_idle(srv, "pg-drill", timeout=90)[0]
            self.assertEqual((drill["trigger"], drill["result"]), ("schedule", "ok"), drill)
            bad = self.wait_idle(srv, "bad-drill", timeout=90)[0]
            self.assertEqual((bad["result"], bad["exit"]), ("failed", "4"), bad)
            self.assertIn("check%20failed", bad["error"])
            self.assertIn("found%200%20rows", bad["stderr"])
            self.assertEqual(len(self.snapshots(srv, "jobs/pg")), 2, "the drill's safety backup is a snapshot too")
            srv.stop()


if __name__ == "__main__":
    unittest.main()
