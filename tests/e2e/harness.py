"""Shared helpers for Strata's end-to-end tests.

Starts real processes (strata-node, strata-proxy, strata-sentinel,
redis-server, nutcracker) on free loopback ports in temporary directories,
waits for them by polling (never by sleeping a fixed time), and stops them
with SIGTERM or SIGKILL.  Binaries are looked up in $STRATA_BIN (set by
deploy/test.sh), else build/bin under the repository root.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import redis

# A report of AddressSanitizer, LeakSanitizer or UBSan in a server's log.
# deploy/test.sh builds with both and sets ASAN_OPTIONS so they abort.
SANITIZER_RE = re.compile(rb"ERROR: (?:Address|Leak|Memory|Thread)Sanitizer|: runtime error: ")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("STRATA_BIN", os.path.join(ROOT, "build", "bin"))


def binary(name):
    path = os.path.join(BIN, name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not built (set STRATA_BIN)")
    return path


def free_port():
    """A port that was free a moment ago on 127.0.0.1 (the kernel picks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, timeout=10.0, interval=0.02, what="condition"):
    """Poll cond() until it returns a truthy value; raise on timeout."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - the condition may fail while starting
            last_exc = e
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}" + (f": {last_exc!r}" if last_exc else ""))


class Proc:
    """A server process on a loopback port with its own temp dir."""

    def __init__(self, args, port, workdir, name, log_path):
        self.args = args
        self.port = port
        self.dir = workdir
        self.name = name
        self.log_path = log_path
        self.proc = None

    def start(self, wait=True, timeout=15.0):
        if getattr(self, "log", None):  # a restart: the previous run's handle
            self.log.close()
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, cwd=self.dir, stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=15.0):
        def ping():
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; log:\n{self.tail()}")
            try:
                return self.client(socket_timeout=1).ping()
            except redis.exceptions.AuthenticationError:
                return True  # it answers: -NOAUTH from a server with a password
            except redis.exceptions.ResponseError as e:
                if str(e).startswith(("NOAUTH", "Authentication required")):
                    return True
                raise
        wait_until(ping, timeout, what=f"{self.name} on port {self.port}")

    def client(self, **kw):
        kw.setdefault("socket_timeout", 10)
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig=signal.SIGKILL):
        if self.alive():
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def stop(self, timeout=20):
        """SIGTERM and wait; returns the exit code."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def sanitizer_report(self, context=30):
        """Lines of the log from the first sanitizer report on, or ""."""
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        m = SANITIZER_RE.search(data)
        if not m:
            return ""
        start = data.rfind(b"\n", 0, m.start()) + 1
        return b"\n".join(data[start:].splitlines()[:context]).decode(errors="replace")

    def close(self, graceful=True):
        """Stop the process (SIGTERM first, so sanitizers can report leaks)."""
        if graceful and self.alive():
            try:
                self.proc.send_signal(signal.SIGCONT)  # in case a test stopped it
                self.stop(timeout=10)
            except Exception:  # noqa: BLE001 - fall back to SIGKILL below
                pass
        self.kill()
        if getattr(self, "log", None):
            self.log.close()


class Cluster:
    """Owns a temp dir and every process started through it."""

    def __init__(self, prefix="strata-"):
        self.root = tempfile.mkdtemp(prefix=prefix)
        self.procs = []
        # Filled by close(): {process name: first lines of its sanitizer report}.
        self.sanitizer_reports = {}

    def path(self, *parts):
        p = os.path.join(self.root, *parts)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        return p

    def _new(self, name, argv, port, start, workdir=None):
        workdir = workdir or self.path(name, "")
        os.makedirs(workdir, exist_ok=True)
        p = Proc(argv, port, workdir, name, os.path.join(self.root, name + ".log"))
        self.procs.append(p)
        return p.start() if start else p

    def node(self, name="node", port=None, args=(), start=True):
        port = port or free_port()
        d = self.path(name, "data")
        argv = [binary("strata-node"), "--port", str(port), "--bind", "127.0.0.1",
                "--dir", d] + list(args)
        return self._new(name, argv, port, start)

    def redis(self, name="redis", port=None, args=(), start=True):
        port = port or free_port()
        workdir = self.path(name, "")
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", workdir] + list(args)
        return self._new(name, argv, port, start, workdir)

    def proxy(self, config_path, name="proxy", port=None, args=(), start=True):
        port = port or free_port()
        argv = [binary("strata-proxy"), "--config", config_path, "--port", str(port)] + list(args)
        return self._new(name, argv, port, start)

    def sentinel(self, config_path, name="sentinel", port=None, args=(), start=True):
        port = port or free_port()
        d = self.path(name, "state")
        argv = [binary("strata-sentinel"), "--config", config_path, "--port", str(port),
                "--dir", d] + list(args)
        return self._new(name, argv, port, start)

    def close(self, keep=False):
        for p in self.procs:
            try:
                p.close()
            except Exception:  # noqa: BLE001 - best effort cleanup
                pass
            report = p.sanitizer_report()
            if report:
                self.sanitizer_reports[p.name] = report
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)
