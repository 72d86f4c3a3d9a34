#!/usr/bin/env python3
"""Abuse limits of bvd (docs/protocol.md §4, §10), each through a real bvd: slow drip before and
after AUTH and inside a push, unauthenticated connections against authenticated ones, failed
logins per address and overall, the quota across concurrent pushes, the memory budget, and a load
test of attackers on 127.0.0.3 while a database host on 127.0.0.2 is served.

Environment: BVD and BVTOOL (the binaries), BV_IO (uring or sync).
"""
import os
import re
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bvd_test  # noqa: E402
from bvd_test import data, make_token, nc_get, nc_push, raw, snapshot_id, start_threads  # noqa: E402

ATTACKER = "127.0.0.3"
HOST = "127.0.0.2"


def connect(port, source=None, timeout=10):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                    source_address=(source, 0) if source else None)


def read_all(s):
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except (ConnectionResetError, socket.timeout):
        pass
    return out.decode(errors="replace")


def drip(s, payload, interval, for_s):
    """Sends payload a byte every `interval` s, for at most for_s s; returns the seconds until the
    server answered or ended the connection, or None if it was still silent and open at the end."""
    start = time.monotonic()
    for b in payload:
        if time.monotonic() - start > for_s:
            return None
        try:
            s.sendall(bytes([b]))
            s.settimeout(interval)
            s.recv(4096, socket.MSG_PEEK)  # anything at all, a reply or the end, is the server giving up
            return time.monotonic() - start
        except socket.timeout:
            pass
        except OSError:
            return time.monotonic() - start
    return None


def rss_kib(srv):
    with open("/proc/%d/status" % srv.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def served(port, tenant, token, source=HOST):
    """A database host's request: AUTH and STAT; the seconds it took, or an AssertionError."""
    start = time.monotonic()
    with connect(port, source, timeout=20) as s:
        s.sendall(("AUTH %s %s\nSTAT\nQUIT\n" % (tenant, token)).encode())
        reply = read_all(s)
    if "OK tenant=" not in reply:
        raise AssertionError("not served: %r" % reply)
    return time.monotonic() - start


class LimitsTest(unittest.TestCase):
    # bvd_test's fixtures, without its tests.
    setUp = bvd_test.BvdTest.setUp
    tearDown = bvd_test.BvdTest.tearDown
    server = bvd_test.BvdTest.server

    def one_tenant(self, extra="", **fields):
        tok = make_token("admin")
        srv = self.server({"shop": dict(fields, tokens=[tok])}, extra=extra)
        return srv, tok["token"]

    # -- slow drip --------------------------------------------------------------------------

    def test_login_has_one_deadline_however_its_bytes_drip(self):
        srv, tok = self.one_tenant("login_timeout_seconds = 2")
        with connect(srv.port) as s:
            ended = drip(s, ("AUTH shop %s\n" % tok).encode() * 4, 0.5, 8)
            reply = read_all(s)
        self.assertIsNotNone(ended, "a login dripped a byte every 0.5 s was still open after 8 s")
        self.assertLess(ended, 6)
        self.assertIn("ERR timeout no successful AUTH within 2 s", reply)

    def test_idle_timeout_counts_whole_requests_not_bytes(self):
        srv, tok = self.one_tenant(idle_timeout_seconds=2)
        with connect(srv.port) as s:
            s.sendall(("AUTH shop %s\nSTAT\n" % tok).encode())
            self.assertTrue(s.recv(4096).startswith(b"OK tenant=shop"))
            ended = drip(s, b"LIST " + b"x" * 100, 0.5, 8)
            reply = read_all(s)
        self.assertIsNotNone(ended, "a request dripped a byte every 0.5 s was still open after 8 s")
        self.assertIn("ERR timeout no whole request line within 2 s", reply)

    def test_a_push_trickled_below_the_rate_floor_ends_and_commits_nothing(self):
        srv, tok = self.one_tenant("push_min_bytes_per_second = 1000\npush_rate_window_seconds = 2")
        with connect(srv.port) as s:
            s.sendall(("AUTH shop %s\nPUT trickle\n" % tok).encode())
            ended = drip(s, b"y" * 100, 0.3, 10)
            reply = read_all(s)
        self.assertIsNotNone(ended, "a push trickled a byte every 0.3 s was still open after 10 s")
        self.assertIn("ERR timeout the client sent", reply)
        self.assertIn("push_min_bytes_per_second", reply)
        self.assertIn("OK count=0", "\n".join(raw(srv.port, ("AUTH shop %s\nLIST\n" % tok).encode()).splitlines()))
        # A push at full speed is not touched by the floor.
        rc, reply = nc_push(srv.port, "shop", tok, "fast", data(1 << 20, 1))
        self.assertIsNotNone(snapshot_id(reply), reply)

    def test_unauthenticated_connections_cannot_take_every_slot(self):
        srv, tok = self.one_tenant("max_connections = 20")
        idle = [connect(srv.port, ATTACKER) for _ in range(30)]  # silent: never AUTH
        try:
            time.sleep(0.3)
            for _ in range(3):
                served(srv.port, "shop", tok)
            # Authenticated sessions keep their slots: 9 held open, then one more is still served.
            held = []
            for _ in range(9):
                s = connect(srv.port, HOST)
                s.sendall(("AUTH shop %s\nSTAT\n" % tok).encode())
                self.assertTrue(s.recv(4096).startswith(b"OK tenant=shop"))
                held.append(s)
            served(srv.port, "shop", tok)
            for s in held:
                s.close()
        finally:
            for s in idle:
                s.close()

    def test_a_host_that_logged_in_before_is_served_through_a_flood_from_many_addresses(self):
        srv, tok = self.one_tenant("max_connections = 20")  # 10 may wait to log in
        served(srv.port, "shop", tok)  # last night's backup: the host is known from now on
        stop = threading.Event()
        refused = [0]

        def flooder(k):  # 40 addresses, each holding one silent connection, renewed every second
            while not stop.is_set():
                try:
                    with connect(srv.port, "127.0.0.%d" % (10 + k)) as s:
                        s.settimeout(1.0)
                        try:
                            if s.recv(200).startswith(b"ERR busy"):
                                refused[0] += 1
                                stop.wait(0.05)
                        except socket.timeout:
                            pass
                except OSError:
                    stop.wait(0.1)

        flood = start_threads(flooder, 40)
        try:
            time.sleep(1.5)
            for _ in range(5):
                served(srv.port, "shop", tok)
                time.sleep(0.2)
        finally:
            stop.set()
            for t in flood:
                t.join()
        self.assertGreater(refused[0], 0, "the flood never filled the pool, so this tested nothing")

    # -- failed logins ----------------------------------------------------------------------

    def test_failed_logins_are_limited_per_address_and_overall_and_logged_at_a_bounded_rate(self):
        srv, tok = self.one_tenant("auth_failure_delay_ms = 0\nauth_failure_burst = 3\nauth_failures_per_minute = 1\n"
                                   "auth_failure_burst_global = 5\nauth_failures_per_minute_global = 1")
        wrong = "bvt_" + "0" * 64

        def login(token, source):
            with connect(srv.port, source) as s:
                s.sendall(("AUTH shop %s\nSTAT\n" % token).encode())
                return read_all(s)

        for _ in range(3):
            self.assertIn("ERR auth", login(wrong, ATTACKER))
        # The address's bucket is empty: refused unchecked, the right token too.
        self.assertIn("ERR busy too many failed logins from 127.0.0.3", login(tok, ATTACKER))
        for _ in range(2):
            self.assertIn("ERR auth", login(wrong, "127.0.0.4"))
        # The global bucket is empty: an address with failures on record is refused ...
        self.assertIn("ERR busy too many failed logins on this server", login(tok, "127.0.0.4"))
        # ... one with none is still checked, so the database hosts get in.
        self.assertIn("OK tenant=shop", login(tok, HOST))
        # A flood of refusals logs a bounded number of lines and says how many it left out.
        start = time.monotonic()
        for _ in range(100):
            login(wrong, ATTACKER)
        flood_s = time.monotonic() - start
        time.sleep(1.1)
        login(wrong, ATTACKER)
        log = srv.log_text()
        refused = log.count("login refused unchecked")
        self.assertIn('login failed for tenant "shop"', log)
        self.assertLess(refused, 100, "every refusal of the flood was logged")
        self.assertLessEqual(refused, 20 * (int(flood_s) + 3) + 2)
        self.assertRegex(log, r"\(\d+ similar lines left out\)")

    # -- quota ------------------------------------------------------------------------------

    def test_concurrent_pushes_cannot_pass_the_quota_together(self):
        quota = 12 << 20
        srv, tok = self.one_tenant(quota_bytes=quota)
        results = [None] * 6

        def push(k):
            results[k] = nc_push(srv.port, "shop", tok, "p/%d" % k, data(6 << 20, 100 + k))

        for t in start_threads(push, 6):
            t.join()
        ok = [r for _, r in results if snapshot_id(r)]
        refused = [r for _, r in results if "ERR quota" in r]
        self.assertEqual(len(ok) + len(refused), 6, results)
        self.assertLessEqual(len(ok), 2, "6 MiB pushes past a 12 MiB quota: %s" % ok)
        new = sum(int(re.search(r" new=(\d+)", r).group(1)) for r in ok)
        self.assertLessEqual(new, quota)
        used = int(re.search(r"used=(\d+)", raw(srv.port, ("AUTH shop %s\nSTAT\n" % tok).encode())).group(1))
        self.assertLessEqual(used, quota + (1 << 20), "used=%d of a %d quota" % (used, quota))
        # Refused pushes gave their reservations back: a small push fits once they are gone.
        rc, reply = nc_push(srv.port, "shop", tok, "small", data(256 << 10, 99)) if used + (1 << 20) < quota else (0, "")
        if reply:
            self.assertIsNotNone(snapshot_id(reply), reply)

    # -- memory -----------------------------------------------------------------------------

    def test_stalled_restores_draw_from_the_memory_budget_and_give_it_back(self):
        srv, tok = self.one_tenant("memory_budget_mib = 100\nmemory_wait_seconds = 1")
        payload = data(48 << 20, 7)
        rc, reply = nc_push(srv.port, "shop", tok, "big", payload)
        self.assertIsNotNone(snapshot_id(reply), reply)
        time.sleep(0.5)
        before = rss_kib(srv) / 1024
        stalled = []
        for _ in range(12):  # restores whose clients read nothing
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", srv.port))
            s.sendall(("AUTH shop %s\nGET big\n" % tok).encode())
            stalled.append(s)
        time.sleep(3)
        during = rss_kib(srv) / 1024
        # Restores may hold three quarters of the budget: a push is still served beside them.
        rc, reply = nc_push(srv.port, "shop", tok, "while-stalled", data(1 << 20, 8))
        self.assertIsNotNone(snapshot_id(reply), reply)
        busy = 0
        for s in stalled:
            s.settimeout(0.2)
            try:
                busy += s.recv(200).startswith(b"ERR busy the server's memory budget")
            except socket.timeout:
                pass
        for s in stalled:
            s.close()
        time.sleep(2)
        after = rss_kib(srv) / 1024
        print("bvd RSS: %.0f MiB before, %.0f MiB with 12 stalled restores (%d refused busy), %.0f MiB after"
              % (before, during, busy, after))
        self.assertGreater(busy, 0, "every stalled restore got memory")
        # 100 MiB less 32 set aside leaves 68 MiB, of which restores may hold 51: three restores of
        # 14 MiB at a time.
        self.assertEqual(busy, 12 - 3)
        if os.environ.get("BV_SANITIZE", "none") == "none":
            self.assertLess(after, before + 32, "memory was not given back")
        # And the budget is whole again: a restore is served.
        self.assertEqual(nc_get(srv.port, "shop", tok, "big"), payload)

    def test_one_tenants_stalled_restores_leave_the_other_tenant_its_half(self):
        shop, lab = make_token("admin"), make_token("admin")
        srv = self.server({"shop": dict(tokens=[shop]), "lab": dict(tokens=[lab])},
                          extra="memory_budget_mib = 150\nmemory_wait_seconds = 1")
        payload = data(48 << 20, 7)
        for tenant, tok in (("shop", shop), ("lab", lab)):
            rc, reply = nc_push(srv.port, tenant, tok["token"], "big", payload)
            self.assertIsNotNone(snapshot_id(reply), reply)
        stalled = []
        for _ in range(12):  # shop's restores, whose clients read nothing
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", srv.port))
            s.sendall(("AUTH shop %s\nGET big\n" % shop["token"]).encode())
            stalled.append(s)
        try:
            time.sleep(3)
            busy = []
            for s in stalled:
                s.settimeout(0.2)
                try:
                    line = s.recv(300)
                    if line.startswith(b"ERR busy"):
                        busy.append(line.decode())
                except socket.timeout:
                    pass
            # 150 MiB less 32 set aside leaves 118, of which restores may hold 88 and one tenant 44:
            # shop holds three restores of 14 MiB, and lab is served beside them.
            self.assertEqual(len(busy), 12 - 3, busy)
            self.assertIn("of tenant shop", busy[0])
            self.assertEqual(nc_get(srv.port, "lab", lab["token"], "big"), payload)
        finally:
            for s in stalled:
                s.close()

    # -- under attack -----------------------------------------------------------------------

    def test_a_database_host_is_served_while_another_address_drips_and_guesses(self):
        srv, tok = self.one_tenant("max_connections = 64\nauth_failure_delay_ms = 200")
        stop = threading.Event()
        opened = [0]

        def dripper(k):
            while not stop.is_set():
                try:
                    with connect(srv.port, ATTACKER) as s:
                        opened[0] += 1
                        for b in b"AUTH shop bvt_" + b"1" * 200:
                            if stop.wait(1.0):
                                return
                            s.sendall(bytes([b]))
                except OSError:
                    stop.wait(0.1)

        def guesser(k):
            n = 0
            while not stop.is_set() and n < 2000:
                n += 1
                try:
                    with connect(srv.port, ATTACKER) as s:
                        s.sendall(("AUTH shop bvt_%064d\n" % (k * 100000 + n)).encode())
                        read_all(s)
                except OSError:
                    pass
                stop.wait(0.05)

        attackers = start_threads(dripper, 80) + start_threads(guesser, 8)
        try:
            time.sleep(3)  # the drippers hold what they can
            times = [served(srv.port, "shop", tok) for _ in range(10)]
        finally:
            stop.set()
            for t in attackers:
                t.join()
        print("database host served in at most %.3f s (median %.3f s) while %d drip connections were tried"
              % (max(times), sorted(times)[5], opened[0]))
        self.assertEqual(len(times), 10)


if __name__ == "__main__":
    unittest.main(verbosity=2)
