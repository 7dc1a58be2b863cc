"""Clients of a TLS port for the end-to-end tests: `target` is anything with
a tls_port (a node, a proxy set-up), `certs` the conftest fixture's files
(a CA, a server and a client certificate)."""
import socket
import ssl
import subprocess
import time

import redis


def tls_client(target, certs, cert=True, **kw):
    """redis-py over TLS, checking the server against the CA; with the
    client certificate unless cert is False."""
    kw.setdefault("socket_timeout", 20)
    if cert:
        kw.setdefault("ssl_certfile", certs["client.crt"])
        kw.setdefault("ssl_keyfile", certs["client.key"])
    return redis.Redis(host="127.0.0.1", port=target.tls_port, ssl=True, ssl_ca_certs=certs["ca.crt"],
                       ssl_cert_reqs="required", **kw)


def ssl_socket(target, certs, cert=True, rcvbuf=None):
    """A raw TLS socket (Python's ssl module), its receive buffer rcvbuf
    bytes if given (a slow reader)."""
    ctx = ssl.create_default_context(cafile=certs["ca.crt"])
    if cert:
        ctx.load_cert_chain(certs["client.crt"], certs["client.key"])
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    raw.settimeout(20)
    raw.connect(("127.0.0.1", target.tls_port))
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def redis_cli(target, certs, *args, cert=True):
    """redis-cli --tls (Debian's redis-tools has TLS); the CompletedProcess."""
    argv = ["redis-cli", "-h", "127.0.0.1", "-p", str(target.tls_port), "--tls", "--cacert", certs["ca.crt"]]
    if cert:
        argv += ["--cert", certs["client.crt"], "--key", certs["client.key"]]
    return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=20)


def read_slowly(s, n, slow_bytes):
    """n bytes from socket s, pausing a millisecond after each read for
    the first slow_bytes (a reader that makes the server's writes stop)."""
    got = bytearray()
    while len(got) < n:
        chunk = s.recv(1 << 16)
        assert chunk, f"connection closed after {len(got)} of {n} bytes"
        got += chunk
        if len(got) < slow_bytes:
            time.sleep(0.001)
    return bytes(got)
