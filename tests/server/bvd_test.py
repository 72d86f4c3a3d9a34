#!/usr/bin/env python3
"""Integration tests of bvd: real bvd processes on ephemeral loopback ports, real clients (nc,
socat), real files. Each test starts its own bvd in its own directory.

Environment: BVD and BVTOOL (the binaries), BV_IO (uring or sync).
"""
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

BVD = os.environ.get("BVD", "build/bvd")
BVTOOL = os.environ.get("BVTOOL", "build/bvtool")
IO = os.environ.get("BV_IO", "uring")


def data(n, seed, text=False):
    """Deterministic bytes: random, or dump-like lines that compress."""
    rng = random.Random(seed)
    if not text:
        return rng.randbytes(n)
    out, i = [], 0
    size = 0
    while size < n:
        line = "%d\t%s\t%d.%02d\t2026-11-%02d 03:%02d:%02d\tcustomer%d@example.com\n" % (
            i, rng.choice(["open", "paid", "shipped", "returned"]), rng.randrange(10000), rng.randrange(100),
            rng.randrange(1, 29), rng.randrange(60), rng.randrange(60), rng.randrange(100000))
        out.append(line)
        size += len(line)
        i += 1
    return "".join(out).encode()[:n]


def make_token(role):
    out = subprocess.run([BVTOOL, "token", "--json", "--role", role], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


class Bvd:
    """One bvd process. `tenants`: {name: {"tokens": [(token, role)], other fields}}; None for the
    embedded default."""

    def __init__(self, root, tenants=None, extra=""):
        self.root = root
        self.data = os.path.join(root, "data")
        self.keys = os.path.join(root, "keys")
        self.config = None
        self.env = dict(os.environ, BV_KEY_DIR=self.keys)
        if tenants is not None:
            self.config = os.path.join(root, "bvd.toml")
            self.write_config(tenants, extra)
        self.proc = None
        self.port = None

    def write_config(self, tenants, extra=""):
        lines = [extra]
        for name, t in tenants.items():
            lines.append("[[tenant]]")
            lines.append('name = "%s"' % name)
            for k, v in t.items():
                if k in ("tokens", "toml"):
                    continue
                lines.append("%s = %s" % (k, json.dumps(v)))
            lines.append("tokens = [ %s ]" % ", ".join(
                '{ hash = "%s", role = "%s" }' % (tok["hash"], tok["role"]) for tok in t["tokens"]))
            lines.append(t.get("toml", ""))  # TOML as it is: inline tables, [[tenant.source]]
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, port=0, also=(), extra_args=()):
        args = [BVD, "--data", self.data, "--listen", "127.0.0.1:%d" % port, "--io", IO, "--log-level", "debug"]
        for a in also:
            args += ["--listen", a]
        args += list(extra_args)
        if self.config:
            args += ["--config", self.config]
        self.log = open(os.path.join(self.root, "bvd.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, env=self.env)
        self.banner = []
        for line in self.proc.stdout:
            line = line.decode()
            self.banner.append(line)
            m = re.match(r"bvd: listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
            if line.startswith("bvd: ready"):
                break
        if self.port is None:
            raise AssertionError("bvd did not start: %s %s" % (self.banner, self.log_text()))
        return self

    def log_text(self):
        with open(os.path.join(self.root, "bvd.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self.proc.stdout.close()
        self.log.close()
        self.proc = None
        return rc

    def rss_peak_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0


def nc_push(port, tenant, token, source, payload, opts="", tool="nc"):
    """A raw push the way a database host does it; returns (exit status, reply text)."""
    head = ("AUTH %s %s\nPUT %s%s\n" % (tenant, token, source, (" " + opts) if opts else "")).encode()
    if tool == "nc":
        cmd = ["nc", "-N", "127.0.0.1", str(port)]
    else:
        cmd = ["socat", "-t", "60", "-", "TCP:127.0.0.1:%d" % port]
    p = subprocess.run(cmd, input=head + payload, capture_output=True, timeout=300)
    return p.returncode, p.stdout.decode(errors="replace")


def nc_get(port, tenant, token, ref, opts=""):
    head = ("AUTH %s %s\nGET %s%s\n" % (tenant, token, ref, (" " + opts) if opts else "")).encode()
    p = subprocess.run(["nc", "127.0.0.1", str(port)], input=head, capture_output=True, timeout=300)
    return p.stdout


def request(port, tenant, token, lines, timeout=30):
    """Sends request lines after AUTH; returns every reply line until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(("AUTH %s %s\n" % (tenant, token)).encode() + "".join(l + "\n" for l in lines).encode()
                  + b"QUIT\n")
        out = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    return out.decode(errors="replace").splitlines()


def raw(port, payload, timeout=30, half_close=True):
    """Sends raw bytes; returns what came back before the server closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            out += b
    return out.decode(errors="replace")


def start_threads(target, n):
    """Runs target(0) … target(n-1), each on its own thread."""
    threads = [threading.Thread(target=target, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    return threads


def read_token(path):
    with open(path) as f:
        return f.read().strip()


def flip_segment_byte(srv, tenant, at, mask):
    """Flips bits of one byte of the tenant's first segment file (bvd stopped); at=None: its middle."""
    seg_dir = os.path.join(srv.data, "tenants", tenant, "segments")
    seg = os.path.join(seg_dir, sorted(os.listdir(seg_dir))[0])
    if at is None:
        at = os.path.getsize(seg) // 2
    with open(seg, "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ mask]))


def data_payload_byte(srv, tenant, after):
    """The offset of a byte in the middle of the payload of the first data block of the tenant's first
    segment that starts at or after `after` (bvd stopped): a flip there damages a body, never a header."""
    seg_dir = os.path.join(srv.data, "tenants", tenant, "segments")
    first = sorted(os.listdir(seg_dir))[0]
    out = subprocess.run([BVTOOL, "inspect", os.path.join(srv.data, "tenants", tenant), first, "--json"],
                         capture_output=True, check=True, timeout=120).stdout
    for b in json.loads(out):
        if b.get("type") == "data" and b["offset"] >= after and b["stored_len"] > 0:
            return b["offset"] + 96 + b["stored_len"] // 2
    raise AssertionError("no data block at or after %d in %s" % (after, first))


def snapshot_id(reply):
    m = re.search(r"^OK snapshot=([0-9a-f]{16}) ", reply, re.M)
    return m.group(1) if m else None


class CuttingProxy:
    """A TCP proxy in front of bvd that drops its first connection, both ways at once, after
    `cut_after` bytes from the client; later connections pass whole."""

    def __init__(self, port, cut_after):
        self.target, self.cut_after, self.connections, self.sockets = port, cut_after, 0, []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.threads = [threading.Thread(target=self.serve, daemon=True)]
        self.threads[0].start()

    def serve(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.sockets += [client, upstream]
            limit = self.cut_after if self.connections == 1 else None
            for src, dst, lim in ((client, upstream, limit), (upstream, client, None)):
                t = threading.Thread(target=self.pump, args=(src, dst, lim, (client, upstream)), daemon=True)
                t.start()
                self.threads.append(t)

    @staticmethod
    def pump(src, dst, limit, both):
        moved = 0
        try:
            while limit is None or moved < limit:
                b = src.recv(1 << 16 if limit is None else min(1 << 16, limit - moved))
                if not b:
                    dst.shutdown(socket.SHUT_WR)
                    return
                dst.sendall(b)
                moved += len(b)
        except OSError:
            pass
        for s in both:  # the cut: both connections go at once
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.listener.close()
        for s in self.sockets:
            s.close()


class BvdTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bvd-test-")
        self.servers = []

    def tearDown(self):
        reports = []
        for s in self.servers:
            if s.proc is not None:
                s.proc.kill()
                s.proc.wait()
                s.proc.stdout.close()
                s.log.close()
            if os.path.exists(os.path.join(s.root, "bvd.log")):
                log = s.log_text()
                # A sanitizer build of bvd reports here; any report fails the test.
                for marker in ("ThreadSanitizer", "AddressSanitizer", "LeakSanitizer", "runtime error:"):
                    at = log.find(marker)
                    if at >= 0:
                        reports.append(log[max(0, at - 200):at + 4000])
        shutil.rmtree(self.tmp, ignore_errors=True)
        if reports:
            self.fail("bvd reported:\n" + reports[0])

    def server(self, tenants=None, extra="", name="a"):
        os.makedirs(os.path.join(self.tmp, name), exist_ok=True)
        s = Bvd(os.path.join(self.tmp, name), tenants, extra)
        self.servers.append(s)
        return s.start()

    def three_tenants(self, **fields):
        tokens = {}
        tenants = {}
        for name in ("shop", "crm", "logs"):
            admin, push, read = make_token("admin"), make_token("push"), make_token("read")
            tokens[name] = {"admin": admin["token"], "push": push["token"], "read": read["token"]}
            tenants[name] = dict(fields, tokens=[admin, push, read])
        return tenants, tokens

    def listing(self, srv, tenant, token):
        lines = request(srv.port, tenant, token, ["LIST"])
        self.assertTrue(lines[-2].startswith("OK count="), lines)
        return [l for l in lines if l.startswith("SNAPSHOT ")]

    # -- the embedded default -------------------------------------------------------------

    def test_default_tenant_push_and_restore_with_nc_and_socat(self):
        srv = self.server()
        tok_path = os.path.join(srv.data, "tokens", "default")
        self.assertEqual(os.stat(tok_path).st_mode & 0o777, 0o600)
        token = read_token(tok_path)
        self.assertTrue(any("PUT pg/orders" in l for l in srv.banner), srv.banner)
        self.assertTrue(any("GET pg/orders" in l for l in srv.banner), srv.banner)
        dump = data(24 << 20, 1, text=True)
        rc, reply = nc_push(srv.port, "default", token, "pg/orders", dump, "label=night1")
        self.assertEqual(rc, 0)
        sid = snapshot_id(reply)
        self.assertIsNotNone(sid, reply)
        self.assertIn("logical=%d " % len(dump), reply)
        self.assertIn("label=night1", reply)
        self.assertEqual(nc_get(srv.port, "default", token, "pg/orders"), dump)
        self.assertEqual(nc_get(srv.port, "default", token, sid), dump)
        # socat, a byte range, and the as-of form.
        blob = data(5 << 20, 2)
        rc, reply = nc_push(srv.port, "default", token, "files/blob", blob, tool="socat")
        self.assertEqual(rc, 0, reply)
        self.assertIsNotNone(snapshot_id(reply), reply)
        self.assertEqual(nc_get(srv.port, "default", token, "files/blob", "range=1000-300000"), blob[1000:300000])
        self.assertEqual(nc_get(srv.port, "default", token, "pg/orders@2999-01-01T00:00:00Z"), dump)
        lines = request(srv.port, "default", token, ["VERIFY pg/orders", "STAT files/blob"])
        self.assertTrue(lines[0].startswith("OK verified=" + sid), lines)
        self.assertTrue(lines[1].startswith("STREAM index=0"), lines)
        # Restarted, it serves the same snapshots with the same token.
        self.assertEqual(srv.stop(), 0)
        srv.start()
        self.assertEqual(read_token(tok_path), token)
        self.assertEqual(nc_get(srv.port, "default", token, "pg/orders"), dump)

    # -- many sources at once, tenants kept apart ------------------------------------------

    def test_concurrent_pushes_across_tenants_restore_exactly(self):
        tenants, tokens = self.three_tenants()
        srv = self.server(tenants)
        jobs = []
        for i in range(18):
            tenant = ("shop", "crm", "logs")[i % 3]
            # Half the streams share a prefix, so concurrent pushes dedup against each other.
            payload = (data(2 << 20, 99) if i % 2 else b"") + data((3 << 20) + 7919 * i, 100 + i, text=i % 3 == 0)
            jobs.append((tenant, "db/%02d" % i, payload))
        results = [None] * len(jobs)

        def push(k):
            tenant, source, payload = jobs[k]
            results[k] = nc_push(srv.port, tenant, tokens[tenant]["push"], source, payload,
                                 tool="socat" if k % 4 == 0 else "nc")

        threads = start_threads(push, len(jobs))
        for t in threads:
            t.join()
        for k, (tenant, source, payload) in enumerate(jobs):
            rc, reply = results[k]
            self.assertEqual(rc, 0, reply)
            self.assertIsNotNone(snapshot_id(reply), "%s %s: %s" % (tenant, source, reply))
            self.assertEqual(nc_get(srv.port, tenant, tokens[tenant]["read"], source), payload, source)
        for tenant in tokens:
            self.assertEqual(len(self.listing(srv, tenant, tokens[tenant]["read"])), 6)

    def test_tenants_and_roles_are_kept_apart(self):
        tenants, tokens = self.three_tenants()
        tenants["logs"]["append_only"] = True
        srv = self.server(tenants)
        secret = data(1 << 20, 5)
        rc, reply = nc_push(srv.port, "shop", tokens["shop"]["push"], "pg/secret", secret)
        self.assertIsNotNone(snapshot_id(reply), reply)
        # Another tenant's token, a wrong token, an unknown tenant.
        self.assertIn("ERR auth", raw(srv.port, ("AUTH shop %s\nLIST\n" % tokens["crm"]["admin"]).encode()))
        self.assertIn("ERR auth", raw(srv.port, b"AUTH shop bvt_wrong\nLIST\n"))
        self.assertIn("ERR auth", raw(srv.port, ("AUTH nobody %s\nLIST\n" % tokens["crm"]["admin"]).encode()))
        self.assertIn("ERR auth", raw(srv.port, b"LIST\n"))
        self.assertIn("login failed", srv.log_text())
        # Another tenant's source does not exist for crm.
        self.assertTrue(nc_get(srv.port, "crm", tokens["crm"]["admin"], "pg/secret").startswith(b"ERR not-found"))
        self.assertEqual(self.listing(srv, "crm", tokens["crm"]["admin"]), [])
        # A push token may only push: not list, restore or delete.
        for line in ("LIST", "GET pg/secret", "DELETE pg/secret", "VERIFY pg/secret"):
            out = request(srv.port, "shop", tokens["shop"]["push"], [line])
            self.assertTrue(out[0].startswith("ERR denied"), (line, out))
        # A read token may not push or delete.
        rc, reply = nc_push(srv.port, "shop", tokens["shop"]["read"], "pg/other", b"x" * 100)
        self.assertIn("ERR denied", reply)
        self.assertTrue(request(srv.port, "shop", tokens["shop"]["read"], ["DELETE pg/secret"])[0].startswith("ERR denied"))
        self.assertEqual(nc_get(srv.port, "shop", tokens["shop"]["read"], "pg/secret"), secret)
        # An append-only tenant refuses DELETE even to admin; others delete.
        rc, reply = nc_push(srv.port, "logs", tokens["logs"]["push"], "app/log", b"y" * 5000)
        out = request(srv.port, "logs", tokens["logs"]["admin"], ["DELETE app/log"])
        self.assertTrue(out[0].startswith("ERR denied"), out)
        self.assertEqual(len(self.listing(srv, "logs", tokens["logs"]["admin"])), 1)
        out = request(srv.port, "shop", tokens["shop"]["admin"], ["DELETE pg/secret reason=test"])
        self.assertTrue(out[0].startswith("OK deleted="), out)
        self.assertEqual(self.listing(srv, "shop", tokens["shop"]["admin"]), [])
        # The deletion survives a restart (it is in the segments).
        self.assertEqual(srv.stop(), 0)
        srv.start()
        self.assertEqual(self.listing(srv, "shop", tokens["shop"]["admin"]), [])

    # -- crashes ---------------------------------------------------------------------------

    def test_kill9_during_pushes_keeps_every_acknowledged_snapshot(self):
        tenants, tokens = self.three_tenants()
        srv = self.server(tenants)
        acked = {}
        payloads = {}
        lock = threading.Lock()
        stop_sending = threading.Event()

        def slow_push(k):
            tenant = ("shop", "crm", "logs")[k % 3]
            source = "slow/%d" % k
            payload = data((2 << 20) + 4096 * k, 300 + k)
            payloads[(tenant, source)] = payload
            try:
                with socket.create_connection(("127.0.0.1", srv.port), timeout=60) as s:
                    s.sendall(("AUTH %s %s\nPUT %s\n" % (tenant, tokens[tenant]["push"], source)).encode())
                    step = 256 << 10
                    for off in range(0, len(payload), step):
                        if k % 2 == 0 and stop_sending.is_set():
                            return  # the even pushes are still sending when bvd dies
                        s.sendall(payload[off:off + step])
                        time.sleep(0.02 if k % 2 == 0 else 0)
                    s.shutdown(socket.SHUT_WR)
                    sid = snapshot_id(s.recv(4096).decode())
                    if sid:
                        with lock:
                            acked[(tenant, source)] = sid
            except OSError:
                pass

        threads = start_threads(slow_push, 8)
        deadline = time.time() + 60
        while len(acked) < 4 and time.time() < deadline:
            time.sleep(0.05)
        srv.proc.kill()  # SIGKILL, in the middle of the even pushes
        srv.proc.wait()
        stop_sending.set()
        for t in threads:
            t.join()
        srv.proc = None
        srv.log.close()
        self.assertGreaterEqual(len(acked), 4)
        srv.start()
        listed = set()
        for tenant in tokens:
            for line in self.listing(srv, tenant, tokens[tenant]["read"]):
                listed.add((tenant, re.search(r"source=(\S+)", line).group(1)))
        for key, sid in acked.items():
            self.assertIn(key, listed)
            self.assertEqual(nc_get(srv.port, key[0], tokens[key[0]]["read"], sid), payloads[key], key)
        # Whatever else is listed was committed whole before the kill, reply or not.
        for key in listed - set(acked):
            self.assertEqual(nc_get(srv.port, key[0], tokens[key[0]]["read"], key[1]), payloads[key], key)
        # The store takes new pushes after the crash.
        rc, reply = nc_push(srv.port, "shop", tokens["shop"]["push"], "after/crash", data(1 << 20, 77))
        self.assertIsNotNone(snapshot_id(reply), reply)

    # -- limits and bad input --------------------------------------------------------------

    def test_bad_input_gets_a_clear_error_and_changes_nothing(self):
        tenants, tokens = self.three_tenants(idle_timeout_seconds=2)
        srv = self.server(tenants)
        tok = tokens["shop"]["admin"]
        rc, reply = nc_push(srv.port, "shop", tok, "pg/kept", data(1 << 20, 8))
        kept = snapshot_id(reply)
        before = self.listing(srv, "shop", tok)
        auth = ("AUTH shop %s\n" % tok).encode()
        cases = [
            (b"A" * 5000 + b"\n", "ERR bad-request request line is longer than 4096"),
            (auth + b"FROB x\n", "ERR bad-request unknown verb FROB"),
            (auth + b"put x\n", "ERR bad-request byte 0: a verb is upper-case"),
            (auth + b"PUT ../etc size=3\nabc", "ERR bad-request source name has an empty, '.' or '..' component"),
            (auth + b"PUT /abs size=3\nabc", "ERR bad-request source name starts with '/'"),
            (auth + b"PUT a\x01b size=3\nabc", "ERR bad-request byte 5: control character 0x01"),
            (auth + b"PUT a\xffb size=3\nabc", "ERR bad-request byte 5: invalid UTF-8"),
            (auth + b"PUT ok size=12x\nabc", "ERR bad-request size=12x: expected a number"),
            (auth + b"PUT ok size=10\nabc", "ERR bad-request the connection closed after 3 of size=10 bytes"),
            (auth + b"PUT ok size=2\nabc", "ERR bad-request more bytes arrived than size=2"),
            (auth + b"PUT ok bogus=1\n", "ERR bad-request PUT takes no option bogus="),
            (auth + b"PUT ok label=a%zz\n", "'%' is not followed by two hex digits"),
            (auth + b"GET pg/kept range=5-1\n", "ERR bad-request range 5-1 is not within"),
            (auth + b"GET\n", "ERR bad-request usage: GET"),
            (auth + b"LIST since=yesterday\n", "ERR bad-request since=yesterday"),
            (auth + auth, "ERR bad-request already authenticated"),
            (auth + b"LIST", "ERR bad-request connection closed in the middle of a request line"),
        ]
        # Framed mode: bad lengths, unknown frames, truncated frames.
        cases += [
            (auth + b"BEGIN f1\nSTREAM\nDATA 99999999999\n", "ERR bad-request usage: DATA <1 to 16777216 bytes>"),
            (auth + b"BEGIN f2\nSTREAM\nDATA 0\n", "ERR bad-request usage: DATA"),
            (auth + b"BEGIN f3\nSTREAM\nDATA -5\n", "ERR bad-request usage: DATA"),
            (auth + b"BEGIN f4\nDATA 3\nabc", "ERR bad-request no stream is open"),
            (auth + b"BEGIN f5\nSTREAM\nLIST\n", "ERR bad-request in a session: DATA, STREAM, END, SYNC, COMMIT or ABORT"),
            (auth + b"BEGIN f6\nCOMMIT\n", "ERR bad-request a snapshot holds 1 to 1024 streams, not 0"),
            (auth + b"BEGIN f7\nSTREAM\nDATA 3\nabcCOMMIT\n", "ERR bad-request a stream is still open"),
            (auth + b"BEGIN f8\nSTREAM a\x01\n", "ERR bad-request byte 8: control character 0x01"),
            (auth + b"RESUME 0123456789abcdef\n", "ERR not-found no session 0123456789abcdef"),
            (auth + b"RESUME xyz\n", "ERR bad-request a session id is 16 hex digits"),
            (auth + b"BEGIN ../x\n", "ERR bad-request source name has an empty"),
        ]
        for payload, expect in cases:
            out = raw(srv.port, payload)
            self.assertIn(expect, out, payload[:80])
        # A frame cut short by a disconnect: the session keeps only what was synced, and a
        # resumed session that is then aborted leaves nothing.
        with socket.create_connection(("127.0.0.1", srv.port)) as s:
            s.sendall(auth + b"BEGIN cutframe\nSTREAM\nDATA 300\n" + data(300, 11) + b"SYNC\n")
            s.sendall(b"DATA 1000\n" + data(10, 12))
            first = b""
            while first.count(b"\n") < 2:
                first += s.recv(100)
        first = first.decode()
        self.assertIn("OK streams=0 open=1 offset=300", first)
        sid = re.search(r"session=([0-9a-f]{16})", first).group(1)
        out = raw(srv.port, auth + ("RESUME %s\nABORT\n" % sid).encode())
        self.assertIn("OK session=%s streams=0 open=1 offset=300" % sid, out)  # the cut frame is not in it
        self.assertIn("OK aborted=", out)
        # A client that stalls: mid-request, and mid-push.
        out = raw(srv.port, auth + b"LIS", half_close=False)
        self.assertIn("ERR timeout", out)
        out = raw(srv.port, auth + b"PUT stalled\n" + data(300000, 9), half_close=False)
        self.assertIn("ERR timeout the client sent nothing for 2 s", out)
        # A client that disconnects mid-push with a declared size.
        with socket.create_connection(("127.0.0.1", srv.port)) as s:
            s.sendall(auth + b"PUT cut size=10000000\n" + data(3 << 20, 10))
        time.sleep(0.5)
        self.assertEqual(self.listing(srv, "shop", tok), before)
        self.assertEqual(nc_get(srv.port, "shop", tok, kept), data(1 << 20, 8))
        self.assertIn("bad request", srv.log_text())

    def test_quota_and_session_limit(self):
        q = make_token("admin")
        srv = self.server({"small": {"quota_bytes": 3 << 20, "max_sessions": 2, "tokens": [q]}})
        tok = q["token"]

        def used():
            return int(re.search(r"used=(\d+)", raw(srv.port, ("AUTH small %s\nSTAT\n" % tok).encode())).group(1))

        before = used()
        rc, reply = nc_push(srv.port, "small", tok, "big", data(8 << 20, 11))
        self.assertIn("ERR quota", reply)
        self.assertEqual(self.listing(srv, "small", tok), [])
        self.assertEqual(used(), before)  # what the refused push wrote was taken back
        rc, reply = nc_push(srv.port, "small", tok, "fits", data(1 << 20, 12))
        self.assertIsNotNone(snapshot_id(reply), reply)
        # Two sessions held open; the third is refused with a clear error.
        held = []
        for _ in range(2):
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.sendall(("AUTH small %s\nSTAT\n" % tok).encode())
            self.assertTrue(s.recv(4096).startswith(b"OK tenant=small"))
            held.append(s)
        self.assertIn("ERR busy tenant small has 2 sessions open", raw(srv.port, ("AUTH small %s\nSTAT\n" % tok).encode()))
        for s in held:
            s.close()
        time.sleep(0.3)
        self.assertIn("OK tenant=small", raw(srv.port, ("AUTH small %s\nSTAT\n" % tok).encode()))

    def test_full_disk_fails_the_push_and_keeps_serving(self):
        mnt = os.path.join(self.tmp, "small-fs")
        os.makedirs(mnt)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", mnt], capture_output=True).returncode:
            self.skipTest("cannot mount a small tmpfs here (needs root)")
        try:
            srv = Bvd(mnt, None)
            srv.keys = os.path.join(self.tmp, "keys")  # outside the small file system
            srv.env["BV_KEY_DIR"] = srv.keys
            self.servers.append(srv)
            srv.start()
            token = read_token(os.path.join(srv.data, "tokens", "default"))
            seg_dir = os.path.join(srv.data, "tenants", "default", "segments")

            def segment_bytes():
                return sum(os.path.getsize(os.path.join(seg_dir, n)) for n in os.listdir(seg_dir))

            first = data(8 << 20, 20)
            rc, reply = nc_push(srv.port, "default", token, "first", first)
            self.assertIsNotNone(snapshot_id(reply), reply)
            before = segment_bytes()
            rc, reply = nc_push(srv.port, "default", token, "huge", data(200 << 20, 21))
            self.assertIn("ERR no-space", reply)
            # The failed push's bytes were never acknowledged: they are cut when it fails, and
            # their space is free again at once.
            self.assertEqual(segment_bytes(), before)
            self.assertEqual(nc_get(srv.port, "default", token, "first"), first)
            lines = request(srv.port, "default", token, ["LIST"])
            self.assertEqual(len([l for l in lines if l.startswith("SNAPSHOT")]), 1, lines)
            # SIGTERM after no-space is a clean stop, and a restart finds nothing of the failed push.
            self.assertEqual(srv.stop(), 0)
            self.assertTrue(os.path.exists(os.path.join(srv.data, "tenants", "default", "CLEAN")))
            srv.start()
            self.assertEqual(segment_bytes(), before)
            rc, reply = nc_push(srv.port, "default", token, "second", data(8 << 20, 22))
            self.assertIsNotNone(snapshot_id(reply), reply)
            self.assertEqual(nc_get(srv.port, "default", token, "first"), first)
            self.assertEqual(srv.stop(), 0)
        finally:
            subprocess.run(["umount", "-l", mnt])

    def test_failed_restore_is_not_silent(self):
        srv = self.server()
        token = read_token(os.path.join(srv.data, "tokens", "default"))
        payload = data(12 << 20, 30)
        rc, reply = nc_push(srv.port, "default", token, "victim", payload)
        self.assertIsNotNone(snapshot_id(reply), reply)
        self.assertEqual(srv.stop(), 0)
        flip_segment_byte(srv, "default", 8 << 20, 0x40)
        srv.start()
        head = ("AUTH default %s\nGET victim\n" % token).encode()
        # The stream stops short with a reset: no error text joins the bytes, and the reader's
        # next read fails instead of seeing an orderly end.
        with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as s:
            s.sendall(head)
            body, reset = b"", False
            while True:
                try:
                    b = s.recv(1 << 16)
                except ConnectionResetError:
                    reset = True
                    break
                if not b:
                    break
                body += b
        self.assertTrue(reset, "the connection ended in order after %d bytes" % len(body))
        self.assertLess(len(body), len(payload))
        self.assertTrue(payload.startswith(body), "the output is not a prefix of the stream")
        # netcat-openbsd and socat output the prefix alone; socat reports the reset.
        out = nc_get(srv.port, "default", token, "victim")
        self.assertTrue(len(out) < len(payload) and payload.startswith(out), out[-200:])
        p = subprocess.run(["socat", "-d", "-d", "-", "TCP:127.0.0.1:%d" % srv.port], input=head,
                           capture_output=True, timeout=60)
        self.assertTrue(len(p.stdout) < len(payload) and payload.startswith(p.stdout))
        self.assertIn(b"Connection reset by peer", p.stderr)
        # on_error=line: the old form for a client that strips it, an error line after the bytes.
        out = nc_get(srv.port, "default", token, "victim", "on_error=line")
        m = re.search(rb"\nERR corrupt [^\n]*offset \d+[^\n]*\n$", out)
        self.assertIsNotNone(m, out[-300:])
        self.assertTrue(payload.startswith(out[:m.start()]))
        # check=first: the damage is found before the first byte; only the error line is sent.
        out = nc_get(srv.port, "default", token, "victim", "check=first")
        self.assertTrue(out.startswith(b"ERR corrupt ") and out.count(b"\n") == 1, out[:300])
        lines = request(srv.port, "default", token, ["VERIFY victim"])
        self.assertTrue(lines[0].startswith("ERR corrupt"), lines)
        # A whole snapshot restores the same with check=first.
        rc, reply = nc_push(srv.port, "default", token, "fine", payload[:3 << 20])
        self.assertEqual(nc_get(srv.port, "default", token, "fine", "check=first"), payload[:3 << 20])
        self.assertIn("ERR bad-request check=later", "\n".join(request(srv.port, "default", token, ["GET fine check=later"])))

    def test_damage_and_a_lost_index_lose_no_snapshot_and_a_push_heals(self):
        """[SCAN-3] [SCAN-5] [DMG-1] [DMG-2] A byte flipped in the active segment, then the index
        removed: bvd rebuilds it on start, keeps every snapshot, names the damaged one, and a push
        of the same bytes heals it."""
        srv = self.server()
        token = read_token(os.path.join(srv.data, "tokens", "default"))
        payloads, ids = [], []
        for i in range(3):
            payloads.append(data(3 << 20, 60 + i))
            rc, reply = nc_push(srv.port, "default", token, "src/a", payloads[-1])
            ids.append(snapshot_id(reply))
            self.assertIsNotNone(ids[-1], reply)
        self.assertEqual(srv.stop(), 0)
        volume = os.path.join(srv.data, "tenants", "default")
        seg = os.path.join(volume, "segments", sorted(os.listdir(os.path.join(volume, "segments")))[0])
        size = os.path.getsize(seg)
        flip_segment_byte(srv, "default", 1 << 20, 0xff)  # in the first snapshot's data
        shutil.rmtree(os.path.join(volume, "index"))
        srv.start()
        self.assertIn("rebuilding it from the segments", srv.log_text())
        self.assertEqual(os.path.getsize(seg), size)
        listed = self.listing(srv, "default", token)
        self.assertEqual(len(listed), 3, listed)
        for i in (1, 2):
            self.assertEqual(nc_get(srv.port, "default", token, ids[i]), payloads[i])
        self.assertNotEqual(nc_get(srv.port, "default", token, ids[0]), payloads[0])
        lines = request(srv.port, "default", token, ["VERIFY " + ids[0]])
        self.assertTrue(lines[0].startswith("ERR corrupt"), lines)
        # The damaged chunk is not deduplicated against: the push stores it again.
        rc, reply = nc_push(srv.port, "default", token, "src/a", payloads[0])
        self.assertIsNotNone(snapshot_id(reply), reply)
        self.assertNotIn(" new=0", reply)
        for i in range(3):
            self.assertEqual(nc_get(srv.port, "default", token, ids[i]), payloads[i])
            lines = request(srv.port, "default", token, ["VERIFY " + ids[i]])
            self.assertTrue(lines[0].startswith("OK"), lines)
        self.assertEqual(srv.stop(), 0)
        self.assertGreater(os.path.getsize(seg), size)
        fsck = subprocess.run([BVTOOL, "fsck", volume], capture_output=True, text=True)
        self.assertEqual(fsck.returncode, 0, fsck.stdout + fsck.stderr)
        self.assertIn("superseded by the copy in", fsck.stdout)
        # Again after another loss of the index and a restart.
        shutil.rmtree(os.path.join(volume, "index"))
        srv.start()
        self.assertEqual(len(self.listing(srv, "default", token)), 4)
        for i in range(3):
            self.assertEqual(nc_get(srv.port, "default", token, ids[i]), payloads[i])
        self.assertEqual(srv.stop(), 0)

    # -- signals and configuration ---------------------------------------------------------

    def test_sigterm_lets_a_push_finish_and_aborts_one_that_overruns(self):
        t = make_token("admin")
        srv = self.server({"t": {"tokens": [t]}}, extra="grace_seconds = 2")
        tok = t["token"]
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        s.sendall(("AUTH t %s\nPUT finishing\n" % tok).encode() + data(1 << 20, 40))
        stalled = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        stalled.sendall(("AUTH t %s\nPUT overrun\n" % tok).encode() + data(1 << 20, 41))
        time.sleep(0.3)
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        # New connections are refused while the running sessions get their grace.
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", srv.port), timeout=2).recv(1)
        s.sendall(data(1 << 20, 42))
        s.shutdown(socket.SHUT_WR)
        self.assertIsNotNone(snapshot_id(s.recv(4096).decode()))
        self.assertEqual(srv.proc.wait(timeout=30), 0)
        srv.proc.stdout.close()
        srv.log.close()
        srv.proc = None
        stalled.close()
        srv.start()
        sources = [re.search(r"source=(\S+)", l).group(1) for l in self.listing(srv, "t", tok)]
        self.assertEqual(sources, ["finishing"])
        self.assertIn("aborting 1 sessions", srv.log_text())

    def test_sighup_reloads_tenants_without_dropping_connections(self):
        a, b = make_token("admin"), make_token("admin")
        tenants = {"first": {"tokens": [a]}}
        srv = self.server(tenants)
        held = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        held.sendall(("AUTH first %s\nSTAT\n" % a["token"]).encode())
        self.assertTrue(held.recv(4096).startswith(b"OK tenant=first"))
        self.assertIn("ERR auth", raw(srv.port, ("AUTH second %s\nSTAT\n" % b["token"]).encode()))
        tenants["second"] = {"tokens": [b], "quota_bytes": 1000000}
        srv.write_config(tenants)
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while "configuration reloaded" not in srv.log_text() and time.time() < deadline:
            time.sleep(0.05)
        self.assertIn("OK tenant=second", raw(srv.port, ("AUTH second %s\nSTAT\n" % b["token"]).encode()))
        held.sendall(b"STAT\n")
        self.assertTrue(held.recv(4096).startswith(b"OK tenant=first"))
        # A broken file is refused on reload; the running configuration stays.
        with open(srv.config, "a") as f:
            f.write("[[tenant]]\nname = \"Bad Name\"\n")
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while "not reloaded" not in srv.log_text() and time.time() < deadline:
            time.sleep(0.05)
        self.assertIn("not reloaded", srv.log_text())
        self.assertIn("OK tenant=second", raw(srv.port, ("AUTH second %s\nSTAT\n" % b["token"]).encode()))
        held.close()

    def test_a_tenant_that_cannot_open_is_named_and_bvd_exits_1(self):
        """A broken tenant volume file: bvd says which tenant and why, and exits 1 (no abort)."""
        srv = self.server()
        self.assertEqual(srv.stop(), 0)
        with open(os.path.join(srv.data, "tenants", "default", "VOLUME"), "wb") as f:
            f.write(b"x")
        p = subprocess.run([BVD, "--data", srv.data, "--listen", "127.0.0.1:0", "--io", IO],
                           capture_output=True, text=True, timeout=60, env=srv.env)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("tenant default:", p.stderr)
        self.assertIn("VOLUME", p.stderr)

    def test_a_tenant_whose_volume_file_is_gone_is_not_made_anew(self):
        """[OPEN-4] VOLUME removed from a tenant that holds segments: bvd refuses rather than hide
        every backup behind a new volume; fsck --repair writes it again and bvd serves them."""
        srv = self.server()
        token = read_token(os.path.join(srv.data, "tokens", "default"))
        payload = data(1 << 20, 70)
        rc, reply = nc_push(srv.port, "default", token, "kept", payload)
        self.assertIsNotNone(snapshot_id(reply), reply)
        self.assertEqual(srv.stop(), 0)
        volume = os.path.join(srv.data, "tenants", "default")
        os.remove(os.path.join(volume, "VOLUME"))
        p = subprocess.run([BVD, "--data", srv.data, "--listen", "127.0.0.1:0", "--io", IO],
                           capture_output=True, text=True, timeout=60, env=srv.env)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("VOLUME is missing", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(volume, "VOLUME")))
        fix = subprocess.run([BVTOOL, "fsck", volume, "--repair"], capture_output=True, text=True)
        self.assertEqual(fix.returncode, 0, fix.stdout + fix.stderr)
        srv.start()
        self.assertEqual(nc_get(srv.port, "default", token, "kept"), payload)
        self.assertEqual(srv.stop(), 0)

    def test_a_segment_removed_under_bvd_is_never_acknowledged_into(self):
        """[OPEN-3] A segment file removed while bvd writes to it: the push that would sync into it fails,
        the next goes to a new segment and stores the lost bytes again."""
        srv = self.server()
        token = read_token(os.path.join(srv.data, "tokens", "default"))
        first, second = data(700 << 10, 71), data(700 << 10, 72)
        rc, reply = nc_push(srv.port, "default", token, "first", first)
        self.assertIsNotNone(snapshot_id(reply), reply)
        seg_dir = os.path.join(srv.data, "tenants", "default", "segments")
        os.remove(os.path.join(seg_dir, "seg-000000000001.bvs"))
        rc, reply = nc_push(srv.port, "default", token, "second", second)
        self.assertIn("ERR corrupt", reply)
        self.assertIn("was removed while it was being written", reply)
        rc, reply = nc_push(srv.port, "default", token, "first", first)
        self.assertIsNotNone(snapshot_id(reply), reply)
        self.assertNotIn(" new=0", reply)
        self.assertEqual(sorted(os.listdir(seg_dir)), ["seg-000000000002.bvs"])
        self.assertEqual(nc_get(srv.port, "default", token, "first"), first)
        self.assertEqual(srv.stop(), 0)
        srv.start()
        self.assertEqual(nc_get(srv.port, "default", token, "first"), first)
        self.assertEqual(srv.stop(), 0)

    def test_bad_config_is_refused_with_line_and_field(self):
        root = os.path.join(self.tmp, "cfg")
        os.makedirs(root)
        cases = [
            ('[[tenant]]\nname = "x"\nquota_bytes = -1\ntokens = [ { hash = "blake2b:%s" } ]\n' % ("0" * 64),
             r"bvd.toml:3:\d+: tenant\[0\]\.quota_bytes: must be between 0 and"),
            ('[[tenant]]\nname = "x"\ntokens = [ { hash = "sha1:abc" } ]\n',
             r"bvd.toml:3:\d+: tenant\[0\]\.tokens\[0\]\.hash: a token hash is"),
            ('grace_seconds = 5\nlisten_on = "x"\n', r"bvd.toml:2:\d+: listen_on: unknown field"),
            ('[[tenant]]\nname = "x"\ntokens = [ { hash = "blake2b:%s", role = "root" } ]\n' % ("0" * 64),
             r"bvd.toml:3:\d+: tenant\[0\]\.tokens\[0\]\.role: role must be push, read or admin"),
            ('grace_seconds = = 5\n', r"bvd.toml:1:\d+: "),
        ]
        for text, pattern in cases:
            path = os.path.join(root, "bvd.toml")
            with open(path, "w") as f:
                f.write(text)
            p = subprocess.run([BVD, "--data", os.path.join(root, "data"), "--config", path, "--listen", "127.0.0.1:0"],
                               capture_output=True, text=True, timeout=30,
                               env=dict(os.environ, BV_KEY_DIR=os.path.join(root, "keys")))
            self.assertEqual(p.returncode, 1, text)
            self.assertRegex(p.stderr, pattern)

    def test_64_pushes_and_32_restores_at_once_stay_within_the_memory_bound(self):
        tenants, tokens = self.three_tenants(max_sessions=64)
        srv = self.server(tenants)
        base = data(4 << 20, 50, text=True)
        results = [None] * 64

        def push(k):
            tenant = ("shop", "crm", "logs")[k % 3]
            results[k] = nc_push(srv.port, tenant, tokens[tenant]["push"], "m/%d" % k, base + data(1 << 20, 500 + k))

        threads = start_threads(push, 64)
        for t in threads:
            t.join()
        for rc, reply in results:
            self.assertIsNotNone(snapshot_id(reply), reply)
        # And 32 restores at once, each byte-exact.
        got = [None] * 32

        def get(k):
            tenant = ("shop", "crm", "logs")[k % 3]
            got[k] = nc_get(srv.port, tenant, tokens[tenant]["read"], "m/%d" % k)

        threads = start_threads(get, 32)
        for t in threads:
            t.join()
        for k in range(32):
            self.assertEqual(got[k], base + data(1 << 20, 500 + k), k)
        peak_mib = srv.rss_peak_kib() / 1024
        print("bvd peak RSS after 64 concurrent pushes and 32 concurrent restores: %.0f MiB" % peak_mib)
        if os.environ.get("BV_SANITIZE", "none") == "none":  # shadow memory is not bvd's
            self.assertLess(peak_mib, 512, "docs/protocol.md §10 states the bound")

    # -- a real database ------------------------------------------------------------------

    def test_pg_dump_pushed_with_nc_restores_into_psql(self):
        bins = sorted(d for d in os.listdir("/usr/lib/postgresql") if os.path.exists(
            "/usr/lib/postgresql/%s/bin/initdb" % d)) if os.path.isdir("/usr/lib/postgresql") else []
        if not bins or os.getuid() != 0 or subprocess.run(["id", "postgres"], capture_output=True).returncode:
            self.skipTest("needs PostgreSQL's server (Debian package postgresql) and root to run it as postgres")
        pgbin = "/usr/lib/postgresql/%s/bin" % bins[-1]
        pgroot = tempfile.mkdtemp(prefix="bvd-pg-")
        os.chmod(pgroot, 0o755)
        shutil.chown(pgroot, "postgres", "postgres")
        pgdata = os.path.join(pgroot, "data")
        port = str(20000 + os.getpid() % 20000)
        as_pg = ["runuser", "-u", "postgres", "--"]
        try:
            subprocess.run(as_pg + [pgbin + "/initdb", "-D", pgdata, "-A", "trust", "-U", "postgres"],
                           check=True, capture_output=True)
            subprocess.run(as_pg + [pgbin + "/pg_ctl", "-D", pgdata, "-w", "-l", os.path.join(pgroot, "log"), "-o",
                                    "-k %s -p %s -c listen_addresses=''" % (pgroot, port), "start"],
                           check=True, capture_output=True)
            env = dict(os.environ, PGHOST=pgroot, PGPORT=port, PGUSER="postgres")

            def psql(db, sql):
                p = subprocess.run(["psql", "-X", "-v", "ON_ERROR_STOP=1", "-Atq", "-d", db, "-c", sql], env=env,
                                   capture_output=True, text=True)
                self.assertEqual(p.returncode, 0, p.stderr)
                return p.stdout.strip()

            psql("postgres", "CREATE DATABASE shop")
            psql("shop", "CREATE TABLE orders (id bigint PRIMARY KEY, placed timestamptz, email text, total numeric(12,2),"
                         " note text); INSERT INTO orders SELECT i, '2026-01-01'::timestamptz + i * interval '1 minute',"
                         " 'customer' || (i * 7919 % 100003) || '@example.com', (i * 31 % 100000) / 100.0,"
                         " md5(i::text) FROM generate_series(1::bigint, 300000) i")
            fingerprint = "SELECT count(*) || ' ' || md5(string_agg(o::text, ',' ORDER BY id)) FROM orders o"
            night1 = psql("shop", fingerprint)
            srv = self.server()
            tok = os.path.join(srv.data, "tokens", "default")
            script = ("set -o pipefail; { printf 'AUTH default %%s\\nPUT pg/shop label=night1\\n' \"$(cat %s)\"; "
                      "pg_dump shop; } | nc -N 127.0.0.1 %d") % (tok, srv.port)
            p = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=300)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIsNotNone(snapshot_id(p.stdout), p.stdout)
            first_new = int(re.search(r" new=(\d+)", p.stdout).group(1))
            # The next night: 1% of rows changed, 1% appended; it costs a fraction of the first.
            psql("shop", "UPDATE orders SET note = 'changed' WHERE id BETWEEN 290000 AND 293000;"
                         " INSERT INTO orders SELECT i, now(), 'new@example.com', 1, 'x' FROM generate_series(300001, 303000) i")
            night2 = psql("shop", fingerprint)
            p = subprocess.run(["bash", "-c", script.replace("night1", "night2")], env=env, capture_output=True,
                               text=True, timeout=300)
            self.assertIsNotNone(snapshot_id(p.stdout), p.stdout)
            second_new = int(re.search(r" new=(\d+)", p.stdout).group(1))
            print("pg_dump pushed with nc: night 1 added %d bytes, night 2 %d" % (first_new, second_new))
            self.assertLess(second_new, first_new // 3, p.stdout)
            # Restore the first night, as of its time, into a new database through psql.
            t1 = re.search(r"time=(\S+)", [l for l in self.listing(srv, "default", read_token(tok)) if "night1" in l][0]).group(1)
            psql("postgres", "CREATE DATABASE shop_restored")
            restore = ("set -o pipefail; printf 'AUTH default %%s\\nGET pg/shop@%s\\n' \"$(cat %s)\" | nc 127.0.0.1 %d"
                       " | psql -X -q -v ON_ERROR_STOP=1 -d shop_restored > /dev/null") % (t1, tok, srv.port)
            p = subprocess.run(["bash", "-c", restore], env=env, capture_output=True, text=True, timeout=300)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(psql("shop_restored", fingerprint), night1)
            self.assertNotEqual(night1, night2)
            # A restore of something that is not there fails the pipeline, not silently.
            psql("postgres", "CREATE DATABASE shop_missing")
            p = subprocess.run(["bash", "-c", restore.replace("pg/shop@" + t1, "pg/nothing").replace(
                "shop_restored", "shop_missing")], env=env, capture_output=True, text=True, timeout=300)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("ERR", p.stderr)
        finally:
            subprocess.run(as_pg + [pgbin + "/pg_ctl", "-D", pgdata, "-m", "immediate", "stop"], capture_output=True)
            shutil.rmtree(pgroot, ignore_errors=True)

    # -- bvtool as the client ---------------------------------------------------------------

    def test_bvtool_client_push_get_ls_verify_delete(self):
        tenants, tokens = self.three_tenants()
        srv = self.server(tenants)
        tokdir = os.path.join(self.tmp, "tok")
        os.makedirs(tokdir)
        paths = {}
        for role in ("admin", "push", "read"):
            paths[role] = os.path.join(tokdir, role)
            with open(paths[role], "w") as f:
                f.write(tokens["shop"][role] + "\n")
        remote = ["--server", "127.0.0.1:%d" % srv.port, "--tenant", "shop"]

        def tool(*args, role="admin", input=None, check=True):
            p = subprocess.run([BVTOOL] + list(args[:1]) + remote + ["--token-file", paths[role]] + list(args[1:]),
                               input=input, capture_output=True, timeout=300)
            if check:
                self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
            return p

        dump = data(9 << 20, 60, text=True)
        path = os.path.join(self.tmp, "dump.sql")
        with open(path, "wb") as f:
            f.write(dump)
        sid = tool("push", "pg/shop", path, "--label", "night 1", role="push").stdout.decode().strip()
        self.assertRegex(sid, r"^[0-9a-f]{16}$")
        piped = tool("push", "pg/piped", "--json", role="push", input=dump).stdout
        self.assertEqual(json.loads(piped)["logical_bytes"], len(dump))
        listed = json.loads(tool("ls", "--json", role="read").stdout)
        self.assertEqual(sorted(s["source"] for s in listed), ["pg/piped", "pg/shop"])
        self.assertEqual([s["label"] for s in listed if s["id"] == sid], ["night 1"])
        self.assertEqual(tool("get", sid, role="read").stdout, dump)
        out = os.path.join(self.tmp, "restored.sql")
        tool("get", "pg/shop", "-o", out, role="read")
        with open(out, "rb") as f:
            self.assertEqual(f.read(), dump)
        self.assertEqual(tool("get", "pg/shop", "--range", "100-5000", role="read").stdout, dump[100:5000])
        self.assertIn(b"verified " + sid.encode(), tool("verify", "pg/shop", role="read").stdout)
        # A push token cannot read; a read token cannot delete.
        p = tool("get", "pg/shop", role="push", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"denied", p.stderr)
        p = tool("delete", "pg/piped", role="read", check=False)
        self.assertIn(b"denied", p.stderr)
        self.assertIn(b"deleted", tool("delete", "pg/piped").stdout)
        self.assertEqual(len(json.loads(tool("ls", "--json").stdout)), 1)
        # A damaged snapshot: exit 3, the error says where, and -o leaves no file behind.
        self.assertEqual(srv.stop(), 0)
        flip_segment_byte(srv, "shop", None, 0x01)
        srv.start()
        remote[1] = "127.0.0.1:%d" % srv.port
        broken = os.path.join(self.tmp, "broken.sql")
        p = tool("get", "pg/shop", "-o", broken, check=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn(b"corrupt", p.stderr)
        self.assertFalse(os.path.exists(broken))
        self.assertEqual([n for n in os.listdir(self.tmp) if "bv-partial" in n], [])
        # Into a pipe (spliced, not read by bvtool): exit 3 and only a prefix of the stream
        # went out; bvd's error line stays out of it.
        p = tool("get", "pg/shop", check=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn(b"corrupt", p.stderr)
        self.assertLess(len(p.stdout), len(dump))
        self.assertTrue(dump.startswith(p.stdout))
        self.assertEqual(tool("verify", "pg/shop", check=False).returncode, 3)

    def test_raw_block_restore_is_checked_and_decoded_by_bvtool(self):
        srv = self.server()
        token = read_token(os.path.join(srv.data, "tokens", "default"))
        token_file = os.path.join(srv.data, "tokens", "default")
        key_file = os.path.join(srv.keys, os.listdir(srv.keys)[0])
        payload = data(5 << 20, 90) + data(7 << 20, 91, text=True)
        rc, reply = nc_push(srv.port, "default", token, "pg/blocks", payload)
        sid = snapshot_id(reply)
        self.assertIsNotNone(sid, reply)
        remote = ["--server", "127.0.0.1:%d" % srv.port, "--token-file", token_file]

        def tool(*args, key=key_file, check=True):
            p = subprocess.run([BVTOOL] + list(args) + remote + (["--key-file", key] if key else []),
                               capture_output=True, timeout=300)
            if check:
                self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
            return p

        self.assertEqual(tool("get", "pg/blocks", "--blocks").stdout, payload)
        for a, b in ((0, 1), (100, 70000), (65536, 3 << 20), (len(payload) - 5, len(payload)), (9, 9)):
            self.assertEqual(tool("get", sid, "--blocks", "--range", "%d-%d" % (a, b)).stdout, payload[a:b], (a, b))
        out = os.path.join(self.tmp, "out.bin")
        tool("get", sid, "--blocks", "-o", out)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), payload)
        self.assertIn(b"every block checked here", tool("verify", sid, "--blocks").stdout)

        # What nc sees: a header line, BLOCK lines each followed by a stored block (magic BVBK,
        # encrypted, so no plaintext), and a final count.
        raw_out = nc_get(srv.port, "default", token, sid, "format=blocks")
        head, rest = raw_out.split(b"\n", 1)
        self.assertRegex(head.decode(), r"^OK snapshot=%s stream=0 length=%d begin=0 end=%d encrypted=true hash=[0-9a-f]{32}$"
                         % (sid, len(payload), len(payload)))
        blocks, taken = 0, 0
        while rest.startswith(b"BLOCK "):
            line, rest = rest.split(b"\n", 1)
            fields = dict(kv.split("=") for kv in line.decode().split()[1:])
            size = int(fields["size"])
            self.assertEqual(rest[:4], b"BVBK")
            self.assertNotIn(payload[int(fields["offset"]):][:64], rest[:size])
            rest = rest[size:]
            blocks += 1
            taken += int(fields["take"])
        self.assertEqual(rest, b"OK blocks=%d bytes=%d\n" % (blocks, len(payload)))
        self.assertEqual(taken, len(payload))
        self.assertGreater(blocks, 40)

        # The same reply with another recorded hash, from a stand-in for bvd: every block checks
        # out, the stream hash does not, and the error names the snapshot and the stream.
        wrong_hash = re.sub(rb"hash=[0-9a-f]{32}", b"hash=" + b"0" * 32, raw_out, count=1)
        with socket.create_server(("127.0.0.1", 0)) as fake:
            def serve():
                conn, _ = fake.accept()
                with conn:
                    got = b""
                    while got.count(b"\n") < 2:  # AUTH, GET
                        got += conn.recv(4096)
                    conn.sendall(wrong_hash)
            t = threading.Thread(target=serve)
            t.start()
            p = subprocess.run([BVTOOL, "get", sid, "--blocks", "--server", "127.0.0.1:%d" % fake.getsockname()[1],
                                "--token-file", token_file, "--key-file", key_file], capture_output=True, timeout=300)
            t.join()
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn(("snapshot %s stream 0 at byte %d: the restored stream does not match its recorded hash"
                       % (sid, len(payload))).encode(), p.stderr)

        # Without the key, or with another, nothing is written and the error says why.
        p = tool("get", sid, "--blocks", key=None, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"appliance key", p.stderr)
        wrong = os.path.join(self.tmp, "wrong.key")
        with open(wrong, "w") as f:
            f.write("bv-master-key-v1 " + "ab" * 32 + "\n")
        os.chmod(wrong, 0o600)
        p = tool("get", sid, "--blocks", "-o", out + ".2", key=wrong, check=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn(b"authentication tag does not verify", p.stderr)
        self.assertFalse(os.path.exists(out + ".2"))
        # Unknown formats are refused.
        self.assertTrue(nc_get(srv.port, "default", token, sid, "format=tar").startswith(b"ERR bad-request format=tar"))

        # A flipped byte: the server ships the block untouched, bvtool finds it (exit 3).
        self.assertEqual(srv.stop(), 0)
        flip_segment_byte(srv, "default", data_payload_byte(srv, "default", 2 << 20), 0x08)
        srv.start()
        remote[1] = "127.0.0.1:%d" % srv.port
        p = tool("get", sid, "--blocks", "-o", out + ".3", check=False)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertRegex(p.stderr.decode(), r"block \d+ at stream offset \d+: block body: body_xxh3 is 0x[0-9a-f]+ but the payload hashes to")
        self.assertFalse(os.path.exists(out + ".3"))
        self.assertEqual(tool("verify", sid, "--blocks", check=False).returncode, 3)

    def test_bvtool_pushes_resume_after_bvd_is_killed(self):
        tenants, tokens = self.three_tenants()
        srv = self.server(tenants)
        port = srv.port
        tokfile = os.path.join(self.tmp, "push.token")
        with open(tokfile, "w") as f:
            f.write(tokens["shop"]["push"])
        big = [data(48 << 20, 70 + k) for k in range(3)]
        small = [data(3 << 20, 80 + k, text=True) for k in range(3)]
        files = []
        for k in range(3):
            path = os.path.join(self.tmp, "small%d" % k)
            with open(path, "wb") as f:
                f.write(small[k])
            files.append(path)
        procs = []
        for k in range(3):
            # The big stream comes through a pipe, so bvd can die in the middle of it.
            p = subprocess.Popen([BVTOOL, "push", "--server", "127.0.0.1:%d" % port, "--tenant", "shop",
                                  "--token-file", tokfile, "multi/%d" % k, "--stream", "dump", "-",
                                  "--stream", "globals", files[k], "--label", "resumed"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            procs.append(p)

        restarted = threading.Event()

        def feed(k):
            try:
                for off in range(0, len(big[k]), 1 << 20):
                    if off == 40 << 20:
                        restarted.wait(120)  # the rest only once bvd has died and come back
                    procs[k].stdin.write(big[k][off:off + (1 << 20)])
                    procs[k].stdin.flush()
                procs[k].stdin.close()
            except BrokenPipeError:
                pass

        feeders = start_threads(feed, 3)
        # Killed once every push has synced part of its first stream (at 32 MiB); none can finish
        # before, as its feeder holds back the last 8 MiB until bvd is back.
        deadline = time.time() + 120
        while time.time() < deadline:
            synced = set(re.findall(r"session ([0-9a-f]{16}) synced streams=0 open=1 offset=[1-9]", srv.log_text()))
            if len(synced) == 3:
                break
            time.sleep(0.02)
        self.assertEqual(len(synced), 3, srv.log_text()[-2000:])
        srv.proc.kill()
        srv.proc.wait()
        srv.proc.stdout.close()
        srv.log.close()
        srv.proc = None
        time.sleep(0.5)
        srv.start(port)
        restarted.set()
        for t in feeders:
            t.join()
        ids = []
        for k, p in enumerate(procs):
            out, err = p.stdout.read(), p.stderr.read()
            p.wait(timeout=300)
            p.stdout.close()
            p.stderr.close()
            self.assertEqual(p.returncode, 0, err.decode(errors="replace"))
            self.assertIn(b"resuming session", err)
            ids.append(out.decode().strip())
        resumed = re.findall(r"RESUME ([0-9a-f]{16}) streams=0 open=1 offset=([1-9]\d*)", srv.log_text())
        self.assertEqual(len(set(r[0] for r in resumed)), 3, resumed)  # each at its synced offset
        for k in range(3):
            self.assertEqual(nc_get(srv.port, "shop", tokens["shop"]["read"], ids[k], "stream=dump"), big[k], k)
            self.assertEqual(nc_get(srv.port, "shop", tokens["shop"]["read"], ids[k], "stream=globals"), small[k], k)
        listed = self.listing(srv, "shop", tokens["shop"]["read"])
        self.assertEqual(len(listed), 3)
        self.assertTrue(all("streams=2" in l and "label=resumed" in l for l in listed), listed)

    def test_bvtool_file_push_resumes_from_the_synced_offset(self):
        # A file is sent from the page cache and kept nowhere else: after a lost connection bvtool
        # sends it again from the offset bvd synced. A proxy cuts the first connection once 20 MiB
        # have gone through; with a sync every 8 MiB, bvd's last sync was at 16 MiB.
        tenants, tokens = self.three_tenants()
        srv = self.server(tenants)
        tokfile = os.path.join(self.tmp, "push.token")
        with open(tokfile, "w") as f:
            f.write(tokens["shop"]["push"])
        dump = data(40 << 20, 90, text=True)
        path = os.path.join(self.tmp, "dump.sql")
        with open(path, "wb") as f:
            f.write(dump)
        proxy = CuttingProxy(srv.port, cut_after=20 << 20)
        try:
            p = subprocess.run([BVTOOL, "push", "--server", "127.0.0.1:%d" % proxy.port, "--tenant", "shop",
                                "--token-file", tokfile, "pg/file", path, "--sync-every", "8"],
                               capture_output=True, timeout=300)
        finally:
            proxy.close()
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        self.assertIn(b"resuming session", p.stderr)
        self.assertGreaterEqual(proxy.connections, 2)
        resumed = re.findall(r"RESUME [0-9a-f]{16} streams=0 open=1 offset=(\d+)", srv.log_text())
        self.assertEqual(resumed, [str(16 << 20)])
        sid = p.stdout.decode().strip()
        self.assertEqual(nc_get(srv.port, "shop", tokens["shop"]["read"], sid), dump)
        # A file that grew since it was pushed last is pushed to its new end.
        with open(path, "ab") as f:
            f.write(b"appended\n")
        sid = subprocess.run([BVTOOL, "push", "--server", "127.0.0.1:%d" % srv.port, "--tenant", "shop",
                              "--token-file", tokfile, "pg/file", path], capture_output=True, check=True,
                             timeout=300).stdout.decode().strip()
        self.assertEqual(nc_get(srv.port, "shop", tokens["shop"]["read"], sid), dump + b"appended\n")

    def test_unix_socket_serves_nc_and_bvtool(self):
        sock = os.path.join(self.tmp, "bvd.sock")
        os.makedirs(os.path.join(self.tmp, "u"))
        srv = Bvd(os.path.join(self.tmp, "u"))
        self.servers.append(srv)
        srv.start(also=("unix:" + sock,))
        self.assertTrue(any(("listening on unix:" + sock) in l for l in srv.banner), srv.banner)
        tok_path = os.path.join(srv.data, "tokens", "default")
        token = read_token(tok_path)
        payload = data(3 << 20, 90)
        p = subprocess.run(["nc", "-N", "-U", sock], input=("AUTH default %s\nPUT over/unix\n" % token).encode() + payload,
                           capture_output=True, timeout=60)
        self.assertIsNotNone(snapshot_id(p.stdout.decode()), p.stdout)
        p = subprocess.run([BVTOOL, "get", "--server", "unix:" + sock, "--token-file", tok_path, "over/unix"],
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, payload)
        self.assertEqual(srv.stop(), 0)
        self.assertFalse(os.path.exists(sock))  # removed on the way out


if __name__ == "__main__":
    unittest.main(verbosity=2)
