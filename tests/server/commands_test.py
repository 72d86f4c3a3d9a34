#!/usr/bin/env python3
"""bvtool running the producer or the consumer itself, through a real bvd:
`bvtool push SOURCE -- COMMAND…` commits only when COMMAND exits with status 0, and
`bvtool get SNAPSHOT --into -- COMMAND…` kills COMMAND before it sees the end of its input when
the restore fails, so that `psql --single-transaction` rolls back.

Environment: BVD and BVTOOL (the binaries), BV_IO (uring or sync).
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import bvd_test  # noqa: E402  (the module, not its names: unittest would run BvdTest again here)
from bvd_test import BVTOOL, data, flip_segment_byte, make_token, read_token  # noqa: E402

MiB = 1 << 20

# A consumer that copies its standard input to a file as it comes and writes a mark file only
# when it sees the end of its input.
CONSUMER = ("import sys\n"
            "out = open(sys.argv[1], 'wb', buffering=0)\n"
            "while True:\n"
            "    b = sys.stdin.buffer.read1(1 << 16)\n"
            "    if not b:\n"
            "        break\n"
            "    out.write(b)\n"
            "open(sys.argv[2], 'w').write('end of input')\n")

# A producer that writes N bytes of a file, then exits with a status or kills itself with a signal.
PRODUCER = ("import os, signal, sys\n"
            "sys.stdout.buffer.write(open(sys.argv[1], 'rb').read()[:int(sys.argv[2])])\n"
            "sys.stdout.buffer.flush()\n"
            "how = sys.argv[3]\n"
            "if how.startswith('kill'):\n"
            "    os.kill(os.getpid(), int(how[4:]))\n"
            "sys.exit(int(how))\n")

# A producer that does not die of a closed pipe: writes bytes that do not dedup until it cannot,
# then waits.
STUBBORN = ("import os, signal, sys, time\n"
            "signal.signal(signal.SIGPIPE, signal.SIG_IGN)\n"
            "open(sys.argv[1], 'w').write(str(os.getpid()))\n"
            "try:\n"
            "    while True:\n"
            "        sys.stdout.buffer.write(os.urandom(1 << 20))\n"
            "except OSError:\n"
            "    pass\n"
            "time.sleep(120)\n")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open("/proc/%d/stat" % pid) as f:  # a zombie is not running
        return f.read().split(") ")[1][0] != "Z"


class CommandsTest(unittest.TestCase):
    setUp = bvd_test.BvdTest.setUp
    tearDown = bvd_test.BvdTest.tearDown
    server = bvd_test.BvdTest.server
    listing = bvd_test.BvdTest.listing

    def tool(self, srv, *args, env=None, timeout=300, tenant="default", token_file=None):
        token_file = token_file or os.path.join(srv.data, "tokens", tenant)
        cmd = [BVTOOL, args[0], "--server", "127.0.0.1:%d" % srv.port, "--tenant", tenant,
               "--token-file", token_file] + list(args[1:])
        return subprocess.run(cmd, capture_output=True, timeout=timeout, env=env)

    def file(self, name, content):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(content)
        return path

    def sources(self, srv):
        token = read_token(os.path.join(srv.data, "tokens", "default"))
        return [re.search(r" source=(\S+)", l).group(1) for l in self.listing(srv, "default", token)]

    # -- push SOURCE -- COMMAND --------------------------------------------------------------

    def test_push_command_that_exits_0_is_committed_whole(self):
        srv = self.server()
        payload = data(7 * MiB, 1, text=True)
        src = self.file("dump", payload)
        p = self.tool(srv, "push", "cmd/ok", "--label", "from a command", "--", "cat", src)
        self.assertEqual(p.returncode, 0, p.stderr)
        sid = p.stdout.decode().strip()
        self.assertRegex(sid, r"^[0-9a-f]{16}$")
        self.assertEqual(self.tool(srv, "get", sid).stdout, payload)
        self.assertEqual(self.sources(srv), ["cmd/ok"])

    def test_push_command_that_fails_or_is_killed_commits_nothing(self):
        srv = self.server()
        src = self.file("dump", data(48 * MiB, 2))
        # 5 MiB then exit 1; 5 MiB then SIGKILL; 40 MiB (past a sync: the session is recorded on
        # the server) then SIGTERM.
        for source, n, how, said in (("cmd/exit1", 5 * MiB, "1", "python3 exited with status 1"),
                                     ("cmd/kill9", 5 * MiB, "kill9", "python3 was killed by signal 9"),
                                     ("cmd/synced", 40 * MiB, "kill15", "python3 was killed by signal 15")):
            p = self.tool(srv, "push", source, "--", "python3", "-c", PRODUCER, src, str(n), how)
            self.assertEqual(p.returncode, 1, p.stderr)
            err = p.stderr.decode()
            self.assertIn(said, err)
            self.assertIn("nothing was committed", err)
            self.assertNotIn("could not be aborted", err)
            self.assertEqual(p.stdout, b"")
        self.assertEqual(self.sources(srv), [])
        # The same producer with status 0 is committed: the failures above were the producer's.
        p = self.tool(srv, "push", "cmd/exit0", "--", "python3", "-c", PRODUCER, src, str(5 * MiB), "0")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.sources(srv), ["cmd/exit0"])

    def test_push_command_that_cannot_run_says_so(self):
        srv = self.server()
        p = self.tool(srv, "push", "cmd/none", "--", "/nonexistent/producer", "x")
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"cannot run /nonexistent/producer", p.stderr)
        p = self.tool(srv, "push", "cmd/none", "somefile", "--", "cat")
        self.assertEqual(p.returncode, 1)
        self.assertEqual(self.sources(srv), [])

    def test_push_that_the_server_refuses_kills_the_producer(self):
        push = make_token("push")
        srv = self.server({"small": {"quota_bytes": 4 * MiB, "tokens": [push]}})
        token_file = self.file("token", push["token"].encode())
        pid_file = os.path.join(self.tmp, "producer.pid")
        p = self.tool(srv, "push", "cmd/big", "--", "python3", "-c", STUBBORN, pid_file, tenant="small",
                      token_file=token_file, timeout=120)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"python3 was killed: the push failed", p.stderr)
        self.assertIn(b"bvd: quota: quota exceeded", p.stderr)  # the server's reason, not a reset
        with open(pid_file) as f:
            pid = int(f.read())
        self.assertFalse(alive(pid), "the producer still runs")

    # -- get SNAPSHOT --into -- COMMAND -----------------------------------------------------

    def test_get_into_a_command_gives_it_the_exact_bytes_and_its_status(self):
        srv = self.server()
        payload = data(9 * MiB, 3)
        self.assertEqual(self.tool(srv, "push", "into/ok", "--", "cat", self.file("in", payload)).returncode, 0)
        out, mark = os.path.join(self.tmp, "out"), os.path.join(self.tmp, "mark")
        p = self.tool(srv, "get", "into/ok", "--into", "--", "python3", "-c", CONSUMER, out, mark)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), payload)
        self.assertTrue(os.path.exists(mark))
        teed = os.path.join(self.tmp, "teed")
        p = self.tool(srv, "get", "into/ok", "--range", "1000-2000", "--into", "--", "tee", teed)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, payload[1000:2000])  # tee's standard output is bvtool's
        with open(teed, "rb") as f:
            self.assertEqual(f.read(), payload[1000:2000])
        # The consumer's own failure is bvtool's exit status, with a line that says so.
        p = self.tool(srv, "get", "into/ok", "--into", "--", "python3", "-c",
                      "import sys; sys.stdin.buffer.read(); sys.exit(5)")
        self.assertEqual(p.returncode, 5)
        self.assertIn(b"python3 exited with status 5", p.stderr)
        # One that stops reading early fails the get even when it exits 0.
        p = self.tool(srv, "get", "into/ok", "--into", "--", "python3", "-c", "import sys; sys.stdin.read(10)")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"before the end of its input", p.stderr)

    def test_get_into_a_damaged_snapshot_kills_the_consumer_before_the_end_of_its_input(self):
        srv = self.server()
        payload = data(12 * MiB, 4)
        self.assertEqual(self.tool(srv, "push", "into/bad", "--", "cat", self.file("in", payload)).returncode, 0)
        self.assertEqual(srv.stop(), 0)
        flip_segment_byte(srv, "default", 8 * MiB, 0x40)
        srv.start()
        out, mark = os.path.join(self.tmp, "out"), os.path.join(self.tmp, "mark")
        p = self.tool(srv, "get", "into/bad", "--into", "--", "python3", "-c", CONSUMER, out, mark)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn(b"corrupt", p.stderr)
        self.assertIn(b"python3 was killed before the end of its input", p.stderr)
        self.assertFalse(os.path.exists(mark), "the consumer saw the end of its input")
        with open(out, "rb") as f:
            got = f.read()
        self.assertLess(len(got), len(payload))
        self.assertTrue(payload.startswith(got))

    # -- offline, on a volume directory ------------------------------------------------------

    def test_offline_put_from_a_command_and_get_into_a_command(self):
        env = dict(os.environ, BV_KEY_DIR=os.path.join(self.tmp, "keys"))
        vol = os.path.join(self.tmp, "vol")

        def tool(*args):
            return subprocess.run([BVTOOL, args[0], vol] + list(args[1:]), capture_output=True, timeout=300, env=env)

        self.assertEqual(tool("init", "--encryption", "none").returncode, 0)
        payload = data(12 * MiB, 5)
        src = self.file("in", payload)
        p = tool("put", "off/bad", "--", "python3", "-c", PRODUCER, src, str(5 * MiB), "kill9")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"python3 was killed by signal 9", p.stderr)
        p = tool("put", "off/ok", "--", "cat", src)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([l.split()[2] for l in tool("ls").stdout.decode().splitlines()[1:]], ["off/ok"])
        out, mark = os.path.join(self.tmp, "out"), os.path.join(self.tmp, "mark")
        p = tool("get", "off/ok", "--into", "--", "python3", "-c", CONSUMER, out, mark)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), payload)
        os.remove(mark)
        seg_dir = os.path.join(vol, "segments")
        seg = os.path.join(seg_dir, sorted(os.listdir(seg_dir))[0])
        with open(seg, "r+b") as f:
            f.seek(8 * MiB)
            b = f.read(1)
            f.seek(8 * MiB)
            f.write(bytes([b[0] ^ 0x40]))
        p = tool("get", "off/ok", "--into", "--", "python3", "-c", CONSUMER, out, mark)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn(b"was killed before the end of its input", p.stderr)
        self.assertFalse(os.path.exists(mark), "the consumer saw the end of its input")

    # -- a real database --------------------------------------------------------------------

    def test_postgresql_pushed_by_command_and_failed_restores_roll_back(self):
        with Postgres(self) as pg:
            pg.psql("postgres", "CREATE DATABASE shop")
            pg.psql("shop", "CREATE TABLE orders (id bigint PRIMARY KEY, placed timestamptz, email text,"
                            " total numeric(12,2), note text); INSERT INTO orders SELECT i, '2026-01-01'::timestamptz"
                            " + i * interval '1 minute', 'customer' || (i * 7919 % 100003) || '@example.com',"
                            " (i * 31 % 100000) / 100.0, md5(i::text) || md5((i + 1)::text) FROM"
                            " generate_series(1::bigint, 300000) i")
            fingerprint = "SELECT count(*) || ' ' || md5(string_agg(o::text, ',' ORDER BY id)) FROM orders o"
            want = pg.psql("shop", fingerprint)
            srv = self.server()
            # pg_dump cut off at 5 MiB and its shell killed: nothing committed.
            p = self.tool(srv, "push", "pg/shop", "--", "sh", "-c", "pg_dump -d shop | head -c 5242880; kill -9 $$",
                          env=pg.env)
            self.assertNotEqual(p.returncode, 0, p.stderr)
            self.assertIn(b"sh was killed by signal 9", p.stderr)
            self.assertEqual(self.sources(srv), [])
            # A whole pg_dump is committed, and restores through psql into a new database.
            p = self.tool(srv, "push", "pg/shop", "--", "pg_dump", "-d", "shop", env=pg.env)
            self.assertEqual(p.returncode, 0, p.stderr)
            sid = p.stdout.decode().strip()
            psql_into = ["--into", "--", "psql", "-X", "-q", "--single-transaction", "-v", "ON_ERROR_STOP=1",
                         "-o", "/dev/null", "-d"]
            pg.psql("postgres", "CREATE DATABASE whole")
            p = self.tool(srv, "get", sid, *psql_into, "whole", env=pg.env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(pg.psql("whole", fingerprint), want)
            length = int(re.search(r" logical=(\d+)", self.listing(srv, "default", read_token(
                os.path.join(srv.data, "tokens", "default")))[0]).group(1))
            # bvd killed mid-restore: psql is killed before the end of its input; nothing stays.
            pg.psql("postgres", "CREATE DATABASE cut")
            seen = os.path.join(self.tmp, "seen")
            consumer = ["--into", "--", "sh", "-c", "tee %s | psql -X -q --single-transaction -v ON_ERROR_STOP=1"
                        " -o /dev/null -d cut" % seen]
            cmd = [BVTOOL, "get", sid, "--server", "127.0.0.1:%d" % srv.port, "--token-file",
                   os.path.join(srv.data, "tokens", "default")] + consumer
            restore = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=pg.env)
            deadline = time.time() + 60
            while (not os.path.exists(seen) or os.path.getsize(seen) < 2 * MiB) and time.time() < deadline:
                time.sleep(0.005)
            srv.proc.kill()
            _, err = restore.communicate(timeout=120)
            self.assertLess(os.path.getsize(seen), length, "the restore ended before bvd was killed")
            self.assertNotEqual(restore.returncode, 0, err)
            self.assertIn(b"was killed before the end of its input", err)
            # psql would have said why it stopped had it seen the end of a cut stream (bvtool's
            # standard error is its own): it was killed first.
            self.assertNotIn(b"psql:", err)
            self.assertEqual(pg.psql("cut", "SELECT to_regclass('public.orders') IS NULL"), "t")
            srv.proc.wait()
            srv.proc.stdout.close()
            srv.log.close()
            srv.proc = None
            # A damaged snapshot: psql rolls back, the target stays as it was.
            flip_segment_byte(srv, "default", None, 0x40)
            srv.start()
            pg.psql("postgres", "CREATE DATABASE damaged")
            pg.psql("damaged", "CREATE TABLE before_restore (x int); INSERT INTO before_restore VALUES (1)")
            p = self.tool(srv, "get", sid, *psql_into, "damaged", env=pg.env)
            self.assertEqual(p.returncode, 3, p.stderr)
            self.assertIn(b"corrupt", p.stderr)
            self.assertNotIn(b"psql:", p.stderr)
            self.assertEqual(pg.psql("damaged", "SELECT to_regclass('public.orders') IS NULL"), "t")
            self.assertEqual(pg.psql("damaged", "SELECT count(*) FROM before_restore"), "1")


class Postgres:
    """A throwaway PostgreSQL cluster run as user postgres, on a Unix socket only."""

    def __init__(self, test):
        self.test = test
        bins = sorted(d for d in os.listdir("/usr/lib/postgresql") if os.path.exists(
            "/usr/lib/postgresql/%s/bin/initdb" % d)) if os.path.isdir("/usr/lib/postgresql") else []
        if not bins or os.getuid() != 0 or subprocess.run(["id", "postgres"], capture_output=True).returncode:
            test.skipTest("needs PostgreSQL's server (Debian package postgresql) and root to run it as postgres")
        self.bin = "/usr/lib/postgresql/%s/bin" % bins[-1]
        self.as_pg = ["runuser", "-u", "postgres", "--"]

    def __enter__(self):
        self.root = tempfile.mkdtemp(prefix="bv-commands-pg-")
        os.chmod(self.root, 0o755)
        shutil.chown(self.root, "postgres", "postgres")
        self.data = os.path.join(self.root, "data")
        port = str(20000 + (os.getpid() + 7) % 20000)
        self.env = dict(os.environ, PGHOST=self.root, PGPORT=port, PGUSER="postgres")
        try:
            subprocess.run(self.as_pg + [self.bin + "/initdb", "-D", self.data, "-A", "trust", "-U", "postgres"],
                           check=True, capture_output=True)
            subprocess.run(self.as_pg + [self.bin + "/pg_ctl", "-D", self.data, "-w", "-l",
                                         os.path.join(self.root, "log"), "-o",
                                         "-k %s -p %s -c listen_addresses=''" % (self.root, port), "start"],
                           check=True, capture_output=True)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        subprocess.run(self.as_pg + [self.bin + "/pg_ctl", "-D", self.data, "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
        return False

    def psql(self, db, sql):
        p = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-Atq", "-d", db, "-c", sql], env=self.env,
                           capture_output=True, text=True)
        self.test.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.strip()


if __name__ == "__main__":
    unittest.main(verbosity=2)
