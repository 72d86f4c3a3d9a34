"""For the benchmark scripts that drive bvd: a bvd process (the embedded default tenant on an
ephemeral loopback port, its data and key directory under `root`) and the dumps they push."""
import argparse
import os
import signal
import subprocess


def side_by_side_args(doc, mib):
    """The options of a script that runs builds side by side on one generated dump."""
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("--build", action="append", required=True)
    ap.add_argument("--mib", type=int, default=mib)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--hard", action="store_true", help="less compressible data")
    return ap.parse_args()


def generate_dump(build, mib, hard, path):
    """Writes a dump-like file of about `mib` MiB to path with the build's bv-dumpgen; its size."""
    with open(path, "wb") as f:
        subprocess.run([os.path.join(build, "bench", "bv-dumpgen"), "--mib", str(mib)] + (["--hard"] if hard else []),
                       stdout=f, check=True)
    return os.path.getsize(path)


class BvdProcess:
    """With tls, also a TLS listener: tls_port and its certificate's fingerprint. With config,
    that configuration file's tenants instead of the embedded default."""

    def __init__(self, build, root, tls=False, config=None):
        os.makedirs(root, exist_ok=True)
        self.root = root
        env = dict(os.environ, BV_KEY_DIR=os.path.join(root, "keys"))
        self.log = open(os.path.join(root, "bvd.log"), "wb")
        self.proc = subprocess.Popen([os.path.join(build, "bvd"), "--data", os.path.join(root, "data"),
                                      "--listen", "127.0.0.1:0"] + (["--listen-tls", "127.0.0.1:0"] if tls else []) +
                                     (["--config", config] if config else []),
                                     stdout=subprocess.PIPE, stderr=self.log, env=env)
        self.port = self.tls_port = self.fingerprint = None
        for line in self.proc.stdout:
            line = line.decode()
            if line.startswith("bvd: listening on 127.0.0.1:"):
                self.port = int(line.rsplit(":", 1)[1])
            if line.startswith("bvd: listening on tls://127.0.0.1:"):
                self.tls_port = int(line.rsplit(":", 1)[1])
            if line.startswith("bvd: TLS certificate "):
                self.fingerprint = line.split()[-1]
            if line.startswith("bvd: ready"):
                break
        if self.port is None:
            self.stop()
            raise SystemExit("bvd of %s did not start; see %s/bvd.log" % (build, root))
        self.token_file = os.path.join(root, "data", "tokens", "default")
        self.token = None if config else open(self.token_file).read().strip()
        keys = os.path.join(root, "keys")
        self.key_file = os.path.join(keys, os.listdir(keys)[0])
        self.tenant_dir = os.path.join(root, "data", "tenants", "default")

    def peak_rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait()
        self.proc.stdout.close()
        self.log.close()
