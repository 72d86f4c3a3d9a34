#!/usr/bin/env python3
"""What a token can and cannot do to a tenant's history, and failures that must not pass for
success: each through a real bvd, with real clients where the item is about them.

Environment: BVD and BVTOOL (the binaries), BV_IO (uring or sync).
"""
import os
import re
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bvd_test import BVD, BVTOOL, BvdTest, data, make_token, nc_get, nc_push, request, snapshot_id  # noqa: E402


def framed(port, tenant, token, payload, lines=None, timeout=30):
    """Sends AUTH and then `payload` (framed-session lines and bytes); returns the reply lines until
    the server closes, or the first `lines` of them, the connection then dropped."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(("AUTH %s %s\n" % (tenant, token)).encode() + payload)
        out = b""
        while lines is None or out.count(b"\n") < lines:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            out += b
    return out.decode(errors="replace").splitlines()



def read_to_close(sock):
    """Every byte until the server closes; a reset raises, and so fails the test."""
    out = b""
    while True:
        b = sock.recv(65536)
        if not b:
            return out
        out += b

class TrustTest(BvdTest):
    def shop(self):
        tenants, tokens = self.three_tenants()
        return self.server(tenants), tokens["shop"]

    # -- what a push token can do ---------------------------------------------------------

    def test_a_push_token_cannot_date_a_snapshot_in_the_future_or_under_existing_ones(self):
        srv, tok = self.shop()
        rc, reply = nc_push(srv.port, "shop", tok["push"], "pg/orders", b"honest night\n")
        self.assertIsNotNone(snapshot_id(reply), reply)
        for when in ("9999-12-31T23:59:59", "2000-01-01"):
            rc, reply = nc_push(srv.port, "shop", tok["push"], "pg/orders", b"attacker\n", "time=" + when)
            self.assertIn("ERR denied", reply, when)
            lines = framed(srv.port, "shop", tok["push"], ("BEGIN pg/orders time=%s\n" % when).encode())
            self.assertTrue(lines and lines[0].startswith("ERR denied"), lines)
        self.assertIn("ahead of the server's clock", nc_push(srv.port, "shop", tok["push"], "pg/x", b"x",
                                                              "time=9999-12-31")[1])
        # Nor in the gap between the newest snapshot and now, where it would change what a past
        # SOURCE@TIME answers, nor on a new source.
        rc, reply = nc_push(srv.port, "shop", tok["admin"], "pg/old", b"old\n", "time=2026-01-01")
        two_hours_ago = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 7200))
        one_hour_ago = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 3600))
        for source in ("pg/old", "pg/new"):
            reply = nc_push(srv.port, "shop", tok["push"], source, b"attacker\n", "time=" + two_hours_ago)[1]
            self.assertIn("ERR denied", reply, source)
            self.assertIn("behind the server's clock", reply, source)
        self.assertEqual(nc_get(srv.port, "shop", tok["read"], "pg/old@" + one_hour_ago), b"old\n")
        # A restore by name still returns the honest bytes.
        self.assertEqual(nc_get(srv.port, "shop", tok["read"], "pg/orders"), b"honest night\n")
        # A time a little ahead (clock skew) is taken; an admin token may date a snapshot freely.
        soon = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 60))
        rc, reply = nc_push(srv.port, "shop", tok["push"], "pg/orders", b"skewed\n", "time=" + soon)
        self.assertIsNotNone(snapshot_id(reply), reply)
        rc, reply = nc_push(srv.port, "shop", tok["admin"], "pg/orders", b"imported\n", "time=2001-01-01")
        self.assertIsNotNone(snapshot_id(reply), reply)
        self.assertEqual(nc_get(srv.port, "shop", tok["read"], "pg/orders@2001-06-01"), b"imported\n")

    def test_a_resumed_push_lands_after_the_snapshots_committed_meanwhile(self):
        srv, tok = self.shop()
        nc_push(srv.port, "shop", tok["push"], "pg/h", b"v0-good\n")
        lines = framed(srv.port, "shop", tok["push"], b"BEGIN pg/h\nSTREAM\nDATA 9\nEVIL-BYTESYNC\n", lines=2)
        self.assertTrue(lines[-1].startswith("OK streams=0 open=1"), lines)
        sid = lines[0].split("session=")[1]
        time.sleep(0.05)
        rc, reply = nc_push(srv.port, "shop", tok["push"], "pg/h", b"v1-good\n")
        t1 = re.search(r" time=(\S+)", reply).group(1)
        lines = framed(srv.port, "shop", tok["push"], ("RESUME %s\nEND\nCOMMIT\n" % sid).encode())
        self.assertTrue(lines[-1].startswith("OK snapshot="), lines)
        self.assertGreater(re.search(r" time=(\S+)", lines[-1]).group(1), t1, lines)
        # What SOURCE@TIME answered before the commit, it answers after.
        self.assertEqual(nc_get(srv.port, "shop", tok["read"], "pg/h@" + t1), b"v1-good\n")
        self.assertEqual(nc_get(srv.port, "shop", tok["read"], "pg/h"), b"EVIL-BYTE")

    def test_a_source_named_like_an_id_never_reaches_another_snapshot(self):
        srv, tok = self.shop()
        rc, reply = nc_push(srv.port, "shop", tok["admin"], "pg/victim", b"victim's dump\n")
        victim = snapshot_id(reply)
        rc, reply = nc_push(srv.port, "shop", tok["push"], victim[:4], b"attacker's bytes\n")
        self.assertIsNotNone(snapshot_id(reply), reply)
        # The bare prefix names both: refused, by GET and by DELETE, and nothing is deleted.
        out = nc_get(srv.port, "shop", tok["read"], victim[:4])
        self.assertTrue(out.startswith(b"ERR bad-request") and b"both a source" in out, out)
        lines = request(srv.port, "shop", tok["admin"], ["DELETE " + victim[:4]])
        self.assertTrue(lines[0].startswith("ERR bad-request"), lines)
        self.assertEqual(nc_get(srv.port, "shop", tok["read"], "id:" + victim[:4]), b"victim's dump\n")
        self.assertEqual(nc_get(srv.port, "shop", tok["read"], victim), b"victim's dump\n")
        self.assertEqual(nc_get(srv.port, "shop", tok["read"], victim[:4] + "@latest"), b"attacker's bytes\n")
        self.assertIn("id:", nc_push(srv.port, "shop", tok["push"], "id:" + victim[:4], b"x")[1])

    def test_duplicate_and_hidden_names_are_refused(self):
        srv, tok = self.shop()
        lines = framed(srv.port, "shop", tok["push"],
                       b"BEGIN db/two\nSTREAM base\nDATA 3\nabcEND\nSTREAM base\n")
        self.assertTrue(lines[0].startswith("OK session="), lines)
        self.assertTrue(lines[-1].startswith("ERR bad-request") and "named 'base' already" in lines[-1], lines)
        for name in ("pg/ord%E2%80%8Bers", "pg/%E2%80%AEsredro"):  # U+200B, U+202E
            rc, reply = nc_push(srv.port, "shop", tok["push"], name, b"x")
            self.assertIn("ERR bad-request", reply, name)
            self.assertIn("invisible or direction-changing", reply, name)
        # A refused frame drains what the client still sends: it reads the error, not a reset.
        with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as c:
            c.sendall(("AUTH shop %s\nBEGIN db/drain\nSTREAM\nDATA 0\n" % tok["push"]).encode())
            try:
                for _ in range(8):
                    c.sendall(b"z" * (64 << 10))
            except (BrokenPipeError, ConnectionResetError):
                pass
            out = read_to_close(c)
        self.assertIn(b"ERR bad-request usage: DATA", out)
        lines = framed(srv.port, "shop", tok["push"], b"BEGIN db/three\nSTREAM w%E2%80%8Bal\n")
        self.assertTrue(lines[-1].startswith("ERR bad-request") and "U+200B" in lines[-1], lines)
        self.assertEqual(len(self.listing(srv, "shop", tok["read"])), 0)

    def test_only_one_of_concurrent_deletes_of_a_snapshot_succeeds(self):
        srv, tok = self.shop()
        rc, reply = nc_push(srv.port, "shop", tok["admin"], "pg/once", data(1 << 20, 7))
        sid = snapshot_id(reply)
        replies = []
        lock = threading.Lock()
        barrier = threading.Barrier(8)

        def delete(k):
            barrier.wait()
            lines = request(srv.port, "shop", tok["admin"], ["DELETE " + sid])
            with lock:
                replies.append(lines[0])

        threads = [threading.Thread(target=delete, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len([r for r in replies if r.startswith("OK deleted=")]), 1, replies)
        self.assertEqual(len([r for r in replies if r.startswith("ERR not-found")]), 7, replies)

    def test_bvtool_sends_no_token_in_clear_to_another_host(self):
        try:
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this picks the outgoing address
            host = probe.getsockname()[0]
            probe.close()
        except OSError:
            host = ""
        if not host or host.startswith("127."):
            self.skipTest("needs a non-loopback address on this host")
        tenants, tokens = self.three_tenants()
        srv = self.server(tenants, extra="allow_plain_remote = true")
        srv.stop()
        srv.start(also=("%s:0" % host,))
        port = int([l for l in srv.banner if l.startswith("bvd: listening on %s:" % host)][0].rsplit(":", 1)[1])
        tok_file = os.path.join(self.tmp, "tok")
        with open(tok_file, "w") as f:
            f.write(tokens["shop"]["read"] + "\n")
        base = [BVTOOL, "ls", "--server", "%s:%d" % (host, port), "--tenant", "shop", "--token-file", tok_file]
        env = dict(os.environ, BV_FINGERPRINT="AA" * 32)
        p = subprocess.run(base, capture_output=True, text=True, timeout=60, env=env)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("in clear", p.stderr)
        self.assertNotIn("authenticated", srv.log_text())
        p = subprocess.run(base + ["--plain"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_failed_logins_to_one_tenant_do_not_lock_out_another_from_the_same_host(self):
        tenants, tokens = self.three_tenants()
        srv = self.server(tenants, extra="auth_failure_delay_ms = 0\nauth_failure_burst = 3")

        def login(tenant, token):
            with socket.socket() as s:
                s.bind(("127.0.0.2", 0))
                s.settimeout(30)
                s.connect(("127.0.0.1", srv.port))
                s.sendall(("AUTH %s %s\nSTAT\nQUIT\n" % (tenant, token)).encode())
                out = b""
                while True:
                    b = s.recv(4096)
                    if not b:
                        return out.decode()
                    out += b

        for _ in range(4):
            login("crm", "bvt_" + "0" * 43)
        self.assertIn("ERR busy too many failed logins from 127.0.0.2 for tenant crm", login("crm", tokens["crm"]["read"]))
        self.assertIn("OK tenant=shop", login("shop", tokens["shop"]["read"]))

    # -- failures that must not pass for success ------------------------------------------

    def test_an_over_long_request_line_is_answered_and_the_close_is_orderly(self):
        srv = self.server()
        token = open(os.path.join(srv.data, "tokens", "default")).read().strip()
        with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as s:
            # The client goes on sending after the server has refused the line, as a push would.
            s.sendall(("AUTH default %s\nGET " % token).encode() + b"x" * 8000)
            try:
                s.sendall(b"y" * (256 << 10) + b"\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            out = read_to_close(s)
        self.assertTrue(out.startswith(b"ERR bad-request request line is longer than 4096 bytes"), out[:200])

    def startup_error(self, args, env=None):
        p = subprocess.run([BVD] + args, capture_output=True, text=True, timeout=60, env=env)
        lines = [l for l in p.stderr.splitlines() if l.startswith("bvd: ")]
        return p.returncode, lines, p.stderr

    def test_startup_errors_are_one_clear_line_and_exit_1(self):
        keys = os.path.join(self.tmp, "keys")
        env = dict(os.environ, BV_KEY_DIR=keys)
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        rc, lines, err = self.startup_error(["--data", os.path.join(self.tmp, "d1"), "--listen",
                                             "127.0.0.1:%d" % port], env)
        busy.close()
        self.assertEqual(rc, 1, err)
        self.assertTrue(any("Address already in use" in l for l in lines), err)
        self.assertNotIn("terminate", err)
        # A data directory with tenants whose key is missing.
        srv = self.server(name="d2")
        srv.stop()
        rc, lines, err = self.startup_error(["--data", srv.data, "--listen", "127.0.0.1:0"],
                                            dict(os.environ, BV_KEY_DIR=os.path.join(self.tmp, "nokeys")))
        self.assertEqual(rc, 1, err)
        self.assertTrue(any("holds tenants but its key" in l for l in lines), err)
        # The key inside the data directory, also when --data is a symbolic link to it.
        real = os.path.join(self.tmp, "real")
        os.makedirs(real)
        link = os.path.join(self.tmp, "link")
        os.symlink(real, link)
        for data_dir in (real, link):
            rc, lines, err = self.startup_error(["--data", data_dir, "--key-file", os.path.join(real, "k.key"),
                                                 "--listen", "127.0.0.1:0"], env)
            self.assertEqual(rc, 1, err)
            self.assertTrue(any("must live outside the data directory" in l for l in lines), err)
            self.assertFalse(os.path.exists(os.path.join(real, "k.key")))


if __name__ == "__main__":
    # Only this file's tests, not the ones imported with BvdTest.
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(TrustTest)
    suite = unittest.TestSuite(t for t in suite if t.id().split(".")[-1] in TrustTest.__dict__)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)
