"""TLS on strata-node's client port (tls-port), with real clients.

A CA, a server certificate (for 127.0.0.1 and localhost) and a client
certificate are made once with the openssl CLI.  The node then listens on
its plain port and on tls-port; the tests talk to it with redis-cli --tls
(Debian's redis-tools is built with TLS) and redis-py with ssl=True:
SET/GET, a pipeline of many commands, values of a few MB both ways (the
node's writes then stop on a full socket and resume: partial TLS writes),
a reader that takes its reply slowly, pub/sub, a BLPOP woken by another
client, tls-auth-clients yes/optional/no, a plain client and a silent one
on the TLS port (each refused or ignored without hurting anybody else), a
configuration file with Redis's spelling, and start-up refusals.
"""
import os
import socket
import ssl
import threading
import time

import pytest
import redis

from harness import free_port, wait_until
from tls_util import read_slowly, redis_cli, ssl_socket, tls_client


def tls_args(certs, tls_port, auth="yes"):
    return ["--tls-port", str(tls_port), "--tls-cert-file", certs["server.crt"],
            "--tls-key-file", certs["server.key"], "--tls-ca-cert-file", certs["ca.crt"],
            "--tls-auth-clients", auth]


def start_node(cluster, certs, auth="yes", name="node"):
    tls_port = free_port()
    node = cluster.node(name=name, args=tls_args(certs, tls_port, auth))
    node.tls_port = tls_port
    return node








def test_redis_cli_over_tls(cluster, certs):
    node = start_node(cluster, certs)
    r = redis_cli(node, certs, "SET", "greeting", "hello over tls")
    assert r.returncode == 0 and r.stdout.strip() == "OK", r
    r = redis_cli(node, certs, "GET", "greeting")
    assert r.stdout.strip() == "hello over tls"
    # The same data behind the plain port.
    assert node.client().get("greeting") == b"hello over tls"
    r = redis_cli(node, certs, "CLIENT", "INFO")
    assert f"laddr=127.0.0.1:{node.tls_port}" in r.stdout


def test_redis_py_ssl_set_get_pipeline(cluster, certs):
    node = start_node(cluster, certs)
    c = tls_client(node, certs)
    assert c.ping() is True
    assert c.set("k", "v") is True
    assert c.get("k") == b"v"
    n = 5000
    p = c.pipeline(transaction=False)
    for i in range(n):
        p.set(f"key:{i}", f"value:{i}")
    for i in range(n):
        p.get(f"key:{i}")
    out = p.execute()
    assert out[:n] == [True] * n
    assert out[n:] == [f"value:{i}".encode() for i in range(n)]
    assert node.client().dbsize() == n + 1
    # MULTI/EXEC over TLS too
    p = c.pipeline(transaction=True)
    p.incr("counter").incr("counter").get("counter")
    assert p.execute() == [1, 2, b"2"]


def test_large_values_both_ways(cluster, certs):
    """Megabytes in one command and in one reply: the node reads many TLS
    records for one argument and writes a reply larger than the socket
    buffers, resuming after each EAGAIN."""
    node = start_node(cluster, certs)
    c = tls_client(node, certs)
    big = os.urandom(6 << 20)
    assert c.set("big", big) is True
    assert c.strlen("big") == len(big)
    assert c.get("big") == big
    # Several large replies pipelined: one output buffer of ~18 MB.
    p = c.pipeline(transaction=False)
    for _ in range(3):
        p.get("big")
    assert p.execute() == [big] * 3
    assert node.client().get("big") == big


def test_slow_reader_gets_every_byte(cluster, certs):
    """A client with a small receive buffer that reads late: the node's
    SSL_write stops on WANT_WRITE many times and must resume at the same
    bytes; meanwhile other clients are served."""
    node = start_node(cluster, certs)
    value = bytes(range(256)) * (3 << 12)  # 3 MB, a pattern that shows a skipped or repeated byte
    node.client().set("pattern", value)
    s = ssl_socket(node, certs, rcvbuf=4096)
    s.sendall(b"*2\r\n$3\r\nGET\r\n$7\r\npattern\r\n" * 2)
    time.sleep(0.3)  # the node fills the socket and waits for it to drain
    other = tls_client(node, certs)
    assert other.ping() is True  # not stuck behind the slow reader
    header = b"$%d\r\n" % len(value)
    want = (header + value + b"\r\n") * 2
    assert read_slowly(s, len(want), 1 << 20) == want
    s.close()


def test_partial_command_writes(cluster, certs):
    """A command sent in many small TLS records, one byte at a time for its
    header: the node parses across reads."""
    node = start_node(cluster, certs)
    s = ssl_socket(node, certs)
    cmd = b"*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$5\r\nbytes\r\n"
    for i in range(len(cmd)):
        s.sendall(cmd[i:i + 1])
    assert s.recv(100) == b"+OK\r\n"
    assert node.client().get("slow") == b"bytes"
    s.close()


def test_pubsub_over_tls(cluster, certs):
    node = start_node(cluster, certs)
    sub = tls_client(node, certs).pubsub()
    sub.subscribe("news")
    msg = sub.get_message(timeout=5)
    assert msg["type"] == "subscribe"
    pub = tls_client(node, certs)
    wait_until(lambda: pub.publish("news", "tls works") == 1, what="subscriber registered")
    msg = sub.get_message(timeout=5)
    while msg is None:
        msg = sub.get_message(timeout=5)
    assert msg["type"] == "message" and msg["data"] == b"tls works"
    # A publisher on the plain port reaches the TLS subscriber too.
    assert node.client().publish("news", "from plain") == 1
    msg = sub.get_message(timeout=5)
    assert msg["data"] == b"from plain"
    sub.close()


def test_blpop_woken_by_another_client(cluster, certs):
    node = start_node(cluster, certs)
    waiter = tls_client(node, certs)
    result = {}

    def wait():
        result["v"] = waiter.blpop("queue", timeout=10)

    t = threading.Thread(target=wait)
    t.start()
    plain = node.client()
    wait_until(lambda: plain.info("clients")["blocked_clients"] == 1, what="BLPOP blocked")
    assert tls_client(node, certs).rpush("queue", "job") == 1
    t.join(15)
    assert not t.is_alive()
    assert result["v"] == (b"queue", b"job")


def test_auth_clients_yes_refuses_without_certificate(cluster, certs):
    node = start_node(cluster, certs, auth="yes")
    with pytest.raises(redis.exceptions.ConnectionError):
        tls_client(node, certs, cert=False, socket_timeout=5).ping()
    # A certificate from a CA the node does not trust is refused as well.
    with pytest.raises(redis.exceptions.ConnectionError):
        tls_client(node, certs, ssl_certfile=certs["stranger.crt"],
                   ssl_keyfile=certs["stranger.key"], socket_timeout=5).ping()
    r = redis_cli(node, certs, "PING", cert=False)
    assert "PONG" not in r.stdout
    # Nobody else is hurt.
    assert tls_client(node, certs).ping() is True
    assert node.client().ping() is True
    assert "peer did not return a certificate" in node.tail(200)


def test_auth_clients_optional_and_no(cluster, certs):
    opt = start_node(cluster, certs, auth="optional", name="optional")
    assert tls_client(opt, certs, cert=False).ping() is True
    assert tls_client(opt, certs).ping() is True
    with pytest.raises(redis.exceptions.ConnectionError):  # sent, so checked
        tls_client(opt, certs, ssl_certfile=certs["stranger.crt"],
                   ssl_keyfile=certs["stranger.key"], socket_timeout=5).ping()
    no = start_node(cluster, certs, auth="no", name="no")
    assert tls_client(no, certs, cert=False).ping() is True
    r = redis_cli(no, certs, "PING", cert=False)
    assert r.stdout.strip() == "PONG"


def test_plain_client_on_tls_port_fails_cleanly(cluster, certs):
    node = start_node(cluster, certs)
    good = tls_client(node, certs)
    good.set("before", "1")
    # A plain RESP client: its bytes are not a TLS ClientHello.
    s = socket.create_connection(("127.0.0.1", node.tls_port), timeout=5)
    s.sendall(b"*1\r\n$4\r\nPING\r\n")
    try:
        data = s.recv(4096)
    except ConnectionResetError:
        data = b""
    assert b"PONG" not in data
    # The node closes it (EOF or reset), not leaves it hanging.
    try:
        while data:
            data = s.recv(4096)
    except ConnectionResetError:
        pass
    s.close()
    # redis-py without ssl on the TLS port fails as well.
    with pytest.raises(redis.exceptions.ConnectionError):
        redis.Redis(host="127.0.0.1", port=node.tls_port, socket_timeout=5).ping()
    # A client that connects and never says anything does not block others.
    silent = socket.create_connection(("127.0.0.1", node.tls_port), timeout=5)
    assert good.get("before") == b"1"
    assert tls_client(node, certs).ping() is True
    assert node.client().ping() is True
    # One that goes away mid-handshake.
    half = socket.create_connection(("127.0.0.1", node.tls_port), timeout=5)
    half.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    half.close()
    assert tls_client(node, certs).ping() is True
    silent.close()
    assert "wrong version number" in node.tail(200)


def test_config_file_with_redis_spelling(cluster, certs):
    tls_port = free_port()
    conf = cluster.path("tls.yaml")
    with open(conf, "w") as f:
        f.write(f"tls-port: {tls_port}\ntls-cert-file: {certs['server.crt']}\n"
                f"tls-key-file: {certs['server.key']}\ntls-ca-cert-file: {certs['ca.crt']}\n"
                "tls-auth-clients: optional\ntls-protocols: \"TLSv1.2 TLSv1.3\"\n")
    node = cluster.node(args=["--config", conf])
    node.tls_port = tls_port
    assert tls_client(node, certs, cert=False).ping() is True
    # TLSv1.2 only: a client that insists on 1.3 cannot connect.
    node2 = cluster.node(name="tls12", args=tls_args(certs, free_port(), "no") +
                         ["--tls-protocols", "TLSv1.2"])
    node2.tls_port = int(node2.args[node2.args.index("--tls-port") + 1])
    ctx = ssl.create_default_context(cafile=certs["ca.crt"])
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    with socket.create_connection(("127.0.0.1", node2.tls_port), timeout=5) as raw:
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    s = ssl_socket(node2, certs, cert=False)
    assert s.version() == "TLSv1.2"
    s.sendall(b"PING\r\n")
    assert s.recv(100) == b"+PONG\r\n"
    s.close()


@pytest.mark.parametrize("bad,why", [
    ({"--tls-cert-file": "/nonexistent.crt"}, "cannot load tls-cert-file"),
    ({"--tls-key-file": "client.key"}, "key values mismatch"),
    ({"--tls-protocols": "SSLv3"}, "unknown TLS protocol 'SSLv3'"),
    ({"--tls-ca-cert-file": ""}, "tls-auth-clients needs tls-ca-cert-file"),
])
def test_bad_tls_settings_refuse_to_start(cluster, certs, bad, why):
    args = tls_args(certs, free_port())
    for k, v in bad.items():
        if v == "client.key":
            v = certs["client.key"]
        if k in args:
            args[args.index(k) + 1] = v
        else:
            args += [k, v]
    node = cluster.node(args=args, start=False)
    node.start(wait=False)
    assert node.proc.wait(timeout=15) != 0
    assert why in node.tail()
