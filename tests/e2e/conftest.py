"""pytest fixtures shared by every end-to-end test."""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Cluster  # noqa: E402


@pytest.fixture
def cluster(request):
    c = Cluster(prefix=f"strata-{request.node.name[:40]}-")
    yield c
    failed = getattr(request.node, "rep_call", None)
    keep = failed is not None and failed.failed and os.environ.get("STRATA_KEEP_FAILED")
    if failed is not None and failed.failed:
        for p in c.procs:
            sys.stderr.write(f"\n--- {p.name} log (tail) ---\n{p.tail()}\n")
    c.close(keep=bool(keep))
    if c.sanitizer_reports:
        pytest.fail("sanitizer report in a server log:\n" + "\n".join(
            f"--- {name} ---\n{text}" for name, text in c.sanitizer_reports.items()))


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A CA, a server certificate (127.0.0.1, localhost), a client one, and a
    client certificate from another CA that servers do not trust (the TLS
    tests of the node and of the proxy).  Paths by file name."""
    d = tmp_path_factory.mktemp("tls")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
             "-days", "2", "-subj", "/CN=Strata Test CA", cwd=d)
    (d / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, ext in (("server", "server.ext"), ("client", None)):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.crt", "-days", "2",
                 *(["-extfile", ext] if ext else []), cwd=d)
    # A second CA and a client certificate from it: trusted by no server.
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.crt",
             "-days", "2", "-subj", "/CN=Other CA", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "stranger.key", "-out", "stranger.csr",
             "-subj", "/CN=stranger", cwd=d)
    _openssl("x509", "-req", "-in", "stranger.csr", "-CA", "other.crt", "-CAkey", "other.key",
             "-CAcreateserial", "-out", "stranger.crt", "-days", "2", cwd=d)
    return {k: str(d / f"{k}") for k in ("ca.crt", "other.crt", "server.crt", "server.key", "client.crt",
                                         "client.key", "stranger.crt", "stranger.key")}


@pytest.fixture
def pair(cluster):
    """(strata-node, redis-server), both fresh, for side-by-side tests."""
    return cluster.node(), cluster.redis()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
