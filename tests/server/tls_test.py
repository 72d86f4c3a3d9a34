#!/usr/bin/env python3
"""Integration tests of bvd's TLS listeners (docs/protocol.md §12): a real bvd with a TLS listener,
bvtool pinning its fingerprint or trusting a CA, and stock clients (openssl s_client, socat) pushing
and restoring through it. Each test starts its own bvd in its own directory.

Environment: BVD and BVTOOL (the binaries), BV_IO (uring or sync).
"""
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bvd_test import BVD, BVTOOL, IO, Bvd, data, make_token, read_token, snapshot_id  # noqa: E402


class TlsBvd(Bvd):
    """A bvd with a plain loopback listener (for the harness) and a TLS one on tls_host."""

    def start(self, port=0, also=(), tls_host="127.0.0.1"):
        super().start(port, also=also, extra_args=["--listen-tls", "%s:0" % tls_host])
        self.tls_port = None
        self.fingerprint = None
        for line in self.banner:
            m = re.match(r"bvd: listening on tls://.*:(\d+)$", line.strip())
            if m:
                self.tls_port = int(m.group(1))
            m = re.match(r"bvd: TLS certificate (\S+) \((created|loaded)\), SHA-256 fingerprint ([0-9A-F:]+)$",
                         line.strip())
            if m:
                self.cert, self.cert_state, self.fingerprint = m.group(1), m.group(2), m.group(3)
        if self.tls_port is None or self.fingerprint is None:
            raise AssertionError("no TLS listener or fingerprint in %s" % self.banner)
        return self


def openssl_fingerprint(cert):
    out = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha256"], check=True,
                         capture_output=True, text=True).stdout
    return out.strip().split("=", 1)[1]


def make_cert(directory, name, ca=None):
    """A P-256 key and certificate: self-signed (a CA) when ca is None, else signed by ca."""
    key, cert = os.path.join(directory, name + ".key"), os.path.join(directory, name + ".pem")
    subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], check=True,
                   capture_output=True)
    if ca is None:
        subprocess.run(["openssl", "req", "-x509", "-new", "-key", key, "-out", cert, "-days", "2", "-subj",
                        "/CN=" + name, "-addext", "subjectAltName=DNS:localhost"], check=True, capture_output=True)
    else:
        csr = os.path.join(directory, name + ".csr")
        subprocess.run(["openssl", "req", "-new", "-key", key, "-out", csr, "-subj", "/CN=" + name], check=True,
                       capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca[1], "-CAkey", ca[0], "-CAcreateserial",
                        "-out", cert, "-days", "2"], check=True, capture_output=True)
    return key, cert


class TlsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="bv-tls-test-")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            if s.proc is not None:
                s.stop(timeout=120)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def bvd(self, name="bvd", tenants=None, extra="", tls_host="127.0.0.1"):
        os.makedirs(os.path.join(self.tmp, name), exist_ok=True)
        s = TlsBvd(os.path.join(self.tmp, name), tenants, extra)
        self.servers.append(s)
        return s.start(tls_host=tls_host)

    def token_file(self, srv):
        return os.path.join(srv.data, "tokens", "default")

    def bvtool(self, srv, *args, server=None, env=None, input=None, check=True):
        cmd = [BVTOOL] + list(args) + ["--server", server or "tls://127.0.0.1:%d" % srv.tls_port,
                                       "--token-file", self.token_file(srv)]
        p = subprocess.run(cmd, capture_output=True, input=input, timeout=120, env=env)
        if check:
            self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        return p

    def test_fingerprint_is_printed_logged_and_matches_openssl(self):
        srv = self.bvd()
        self.assertEqual(srv.cert_state, "created")
        self.assertEqual(srv.fingerprint, openssl_fingerprint(srv.cert))
        self.assertIn(srv.fingerprint, srv.log_text())
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(srv.data, "tls", "key.pem")).st_mode), 0o600)
        first = srv.fingerprint
        self.assertEqual(srv.stop(), 0)
        srv.start()
        self.assertEqual((srv.cert_state, srv.fingerprint), ("loaded", first))

    def test_bvtool_push_and_get_with_the_pinned_fingerprint(self):
        srv = self.bvd()
        payload = data(6 << 20, 1) + data(3 << 20, 2, text=True)
        src = os.path.join(self.tmp, "in.bin")
        with open(src, "wb") as f:
            f.write(payload)
        self.bvtool(srv, "push", "pg/tls", src, "--fingerprint", srv.fingerprint)
        self.bvtool(srv, "push", "pg/pipe", "-", "--fingerprint", srv.fingerprint, input=payload)
        bare = srv.fingerprint.replace(":", "").lower()  # accepted without colons, in either case
        env = dict(os.environ, BV_FINGERPRINT=bare)
        self.assertEqual(self.bvtool(srv, "get", "pg/tls", env=env).stdout, payload)
        out = os.path.join(self.tmp, "out.bin")
        self.bvtool(srv, "get", "pg/pipe", "-o", out, env=env)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), payload)
        # Through a pipe (where a plain socket is spliced) and as stored blocks (spliced from segments).
        p = subprocess.run("%s get pg/tls --server tls://127.0.0.1:%d --token-file %s | cat > %s" % (
            BVTOOL, srv.tls_port, self.token_file(srv), out), shell=True, env=env, timeout=120)
        self.assertEqual(p.returncode, 0)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), payload)
        key_file = os.path.join(srv.keys, os.listdir(srv.keys)[0])
        self.assertEqual(self.bvtool(srv, "get", "pg/tls", "--blocks", "--key-file", key_file, env=env).stdout, payload)
        self.assertIn("TLS", srv.log_text())

    def test_a_wrong_fingerprint_is_refused_before_the_token_is_sent(self):
        # A stranger's TLS server, not bvd: whatever bvtool sends it is printed.
        key, cert = make_cert(self.tmp, "stranger")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        stranger = subprocess.Popen(["openssl", "s_server", "-quiet", "-accept", str(port),
                                     "-cert", cert, "-key", key], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            srv = self.bvd()
            token = read_token(self.token_file(srv))
            p = self.bvtool(srv, "ls", "--fingerprint", srv.fingerprint, server="tls://127.0.0.1:%d" % port,
                            check=False)
        finally:
            stranger.kill()
            received = stranger.communicate()[0]
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"not the pinned " + srv.fingerprint.encode(), p.stderr)
        self.assertNotIn(token.encode(), received)
        self.assertNotIn(b"AUTH", received)

    def test_no_verification_is_refused_unless_insecure(self):
        srv = self.bvd()
        p = self.bvtool(srv, "ls", check=False, env=dict(os.environ, BV_FINGERPRINT=""))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"--fingerprint", p.stderr)
        self.assertIn(b"--insecure", p.stderr)
        self.bvtool(srv, "ls", "--insecure")
        p = self.bvtool(srv, "ls", "--fingerprint", "AB:CD", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"64 hex digits", p.stderr)

    def test_a_ca_file_verifies_chain_and_name(self):
        srv = self.bvd()
        self.bvtool(srv, "ls", "--ca", srv.cert, server="tls://localhost:%d" % srv.tls_port)
        self.bvtool(srv, "ls", "--ca", srv.cert)  # 127.0.0.1 is in the certificate too
        _, other = make_cert(self.tmp, "other-ca")
        p = self.bvtool(srv, "ls", "--ca", other, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"not trusted", p.stderr)

    def test_an_address_not_in_the_certificate_is_refused_with_a_ca(self):
        srv = self.bvd(tls_host="0.0.0.0")  # a wildcard listener: the certificate names loopback and the host
        self.bvtool(srv, "ls", "--ca", srv.cert)
        p = self.bvtool(srv, "ls", "--ca", srv.cert, server="tls://127.0.0.3:%d" % srv.tls_port, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"not trusted", p.stderr)
        self.assertIn(b"mismatch", p.stderr)
        # A pinned fingerprint names the certificate itself, whatever the address.
        self.bvtool(srv, "ls", "--fingerprint", srv.fingerprint, server="tls://127.0.0.3:%d" % srv.tls_port)

    def stock_push_get(self, srv, push_cmd, get_cmd, source, payload):
        token = read_token(self.token_file(srv))
        head = ("AUTH default %s\nPUT %s\n" % (token, source)).encode()
        p = subprocess.run(push_cmd, input=head + payload, capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        p2 = subprocess.run(get_cmd, input=("AUTH default %s\nGET %s\n" % (token, source)).encode(),
                            capture_output=True, timeout=120)
        self.assertEqual(p2.returncode, 0, p2.stderr)
        self.assertEqual(len(p2.stdout), len(payload))
        self.assertEqual(p2.stdout, payload)
        return p.stdout.decode(errors="replace")

    def test_openssl_s_client_and_socat_push_and_restore(self):
        srv = self.bvd()
        addr = "127.0.0.1:%d" % srv.tls_port
        payload = data(5 << 20, 7) + data(2 << 20, 8, text=True)
        s_push = ["openssl", "s_client", "-quiet", "-no_ign_eof", "-nocommands", "-verify_return_error",
                  "-CAfile", srv.cert, "-connect", addr]
        s_get = ["openssl", "s_client", "-quiet", "-verify_return_error", "-CAfile", srv.cert, "-connect", addr]
        socat_push = ["socat", "-t", "60", "-", "OPENSSL:%s,cafile=%s" % (addr, srv.cert)]
        socat_get = ["socat", "-t", "60", "-", "OPENSSL:%s,verify=0" % addr]
        self.stock_push_get(srv, s_push, socat_get, "raw/s_client", payload)
        reply = self.stock_push_get(srv, socat_push, s_get, "raw/socat", payload[::-1])
        self.assertIsNotNone(snapshot_id(reply), reply)  # socat half-closes and reads the reply
        # s_client that must verify refuses a server it cannot.
        _, other = make_cert(self.tmp, "other")
        p = subprocess.run(["openssl", "s_client", "-quiet", "-verify_return_error", "-CAfile", other, "-connect",
                            addr], input=b"", capture_output=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)

    def test_plain_tcp_beyond_loopback_is_refused_at_start(self):
        root = os.path.join(self.tmp, "plain")
        os.makedirs(root)
        env = dict(os.environ, BV_KEY_DIR=os.path.join(root, "keys"))
        p = subprocess.run([BVD, "--data", os.path.join(root, "data"), "--listen", "0.0.0.0:0", "--io", IO],
                           capture_output=True, timeout=60, env=env)
        self.assertEqual(p.returncode, 1)
        lines = p.stderr.decode().strip().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("allow_plain_remote", lines[0])
        cfg = os.path.join(root, "bvd.toml")
        tok = make_token("admin")
        with open(cfg, "w") as f:
            f.write('allow_plain_remote = true\nlisten = ["0.0.0.0:0"]\n[[tenant]]\nname = "t"\n'
                    'tokens = [ { hash = "%s", role = "admin" } ]\n' % tok["hash"])
        proc = subprocess.Popen([BVD, "--data", os.path.join(root, "data"), "--config", cfg, "--io", IO],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        try:
            banner = [proc.stdout.readline().decode() for _ in range(2)]
            self.assertTrue(any(l.startswith("bvd: listening on 0.0.0.0:") for l in banner), banner)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
            proc.stdout.close()

    def test_a_tenant_with_client_certificates_needs_one(self):
        ca = make_cert(self.tmp, "client-ca")
        signed = make_cert(self.tmp, "signed-client", ca=ca)
        pinned = make_cert(self.tmp, "pinned-client")
        stranger = make_cert(self.tmp, "stranger-client")
        tok = make_token("admin")
        tenants = {"t": {"tokens": [tok], "client_ca": ca[1],
                         "client_cert_fingerprints": [openssl_fingerprint(pinned[1]).replace(":", "")]}}
        srv = self.bvd(tenants=tenants)
        tok_file = os.path.join(self.tmp, "t.token")
        with open(tok_file, "w") as f:
            f.write(tok["token"] + "\n")

        def ls(*extra, server=None):
            return subprocess.run([BVTOOL, "ls", "--server", server or "tls://127.0.0.1:%d" % srv.tls_port,
                                   "--tenant", "t", "--token-file", tok_file] + list(extra),
                                  capture_output=True, timeout=60)

        fp = ["--fingerprint", srv.fingerprint]
        for key, cert in (signed, pinned):
            p = ls(*fp, "--cert", cert, "--key", key)
            self.assertEqual(p.returncode, 0, (cert, p.stderr))
        p = ls(*fp)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"none was presented", p.stderr)
        p = ls(*fp, "--cert", stranger[1], "--key", stranger[0])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"not trusted", p.stderr)
        p = ls(server="127.0.0.1:%d" % srv.port)  # plain, even on loopback
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"over TLS", p.stderr)

    def test_a_silent_client_loses_its_connection_at_the_handshake_deadline(self):
        tok = make_token("admin")
        srv = self.bvd(tenants={"t": {"tokens": [tok]}}, extra="login_timeout_seconds = 1")
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=30) as s:
            self.assertEqual(s.recv(100), b"")  # closed by the server, without a byte sent either way
        self.assertLess(time.monotonic() - t0, 10)
        for _ in range(50):
            if "TLS handshake" in srv.log_text():
                break
            time.sleep(0.1)
        self.assertIn("not done within 1000 ms", srv.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
