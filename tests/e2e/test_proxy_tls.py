"""TLS on strata-proxy's client port (proxy.tls_port), with real clients.

The proxy keeps its plain `listen` port and opens tls_port on the same
address, in every worker thread (threads: 2 here), with the node's tls_*
settings.  The CA and certificates come from conftest.py's `certs`.  Its
links to the groups stay plain.  Through the TLS port: redis-cli --tls and
redis-py ssl=True, SET/GET, a pipeline of 1000 commands across groups, a
1 MB value both ways and pipelined replies larger than the socket buffers,
a reader that takes its reply slowly, pub/sub and a BLPOP woken by another
client, tls_auth_clients yes/optional, a plain client on the TLS port, and
start-up refusals (bad certificate path, key mismatch, tls_port = listen).
"""
import os
import socket
import subprocess
import threading
import time

import pytest
import redis

from harness import free_port, wait_until
from proxy_util import ProxySetup, keys_for_group, topology_text, write_file
from tls_util import read_slowly, redis_cli, ssl_socket, tls_client


def tls_opts(certs, tls_port, auth="yes"):
    return {"tls_port": tls_port, "tls_cert_file": certs["server.crt"],
            "tls_key_file": certs["server.key"], "tls_ca_cert_file": certs["ca.crt"],
            "tls_auth_clients": auth, "threads": 2}


def start(cluster, certs, auth="yes"):
    port = free_port()
    ps = ProxySetup(cluster, 2, proxy_opts=tls_opts(certs, port, auth))
    ps.tls_port = port
    return ps








def test_redis_cli_and_the_plain_port(cluster, certs):
    ps = start(cluster, certs)
    k1, k2 = keys_for_group(ps.ranges, 0, 1)[0], keys_for_group(ps.ranges, 1, 1)[0]
    for k in (k1, k2):
        r = redis_cli(ps, certs, "SET", k, f"over tls {k}")
        assert r.returncode == 0 and r.stdout.strip() == "OK", r
        r = redis_cli(ps, certs, "GET", k)
        assert r.stdout.strip() == f"over tls {k}"
    # The same data behind the plain port, and in each group's backend.
    assert ps.client().mget(k1, k2) == [f"over tls {k1}".encode(), f"over tls {k2}".encode()]
    assert ps.direct(0).get(k1) == f"over tls {k1}".encode()
    assert ps.direct(1).get(k2) == f"over tls {k2}".encode()
    r = redis_cli(ps, certs, "CLIENT", "INFO")
    assert f"laddr=127.0.0.1:{ps.tls_port}" in r.stdout, r.stdout
    assert f"laddr=127.0.0.1:{ps.proxy.port} " in ps.client().execute_command("CLIENT", "INFO").decode()
    assert f"TLS clients on 127.0.0.1:{ps.tls_port}" in ps.proxy.tail(200)


def test_pipeline_and_big_values(cluster, certs):
    ps = start(cluster, certs)
    c = tls_client(ps, certs)
    assert c.ping() is True
    n = 500
    p = c.pipeline(transaction=False)
    for i in range(n):
        p.set(f"key:{i}", f"value:{i}")
    for i in range(n):
        p.get(f"key:{i}")
    out = p.execute()
    assert out[:n] == [True] * n
    assert out[n:] == [f"value:{i}".encode() for i in range(n)]
    assert ps.direct(0).dbsize() + ps.direct(1).dbsize() == n
    # 1 MB in one command and in one reply, and three such replies
    # pipelined: the proxy's TLS writes stop on a full socket and resume.
    big = os.urandom(1 << 20)
    assert c.set("big", big) is True
    assert c.get("big") == big
    assert ps.client().get("big") == big
    ps.client().set("big2", big[::-1])
    p = c.pipeline(transaction=False)
    p.get("big").get("big2").get("big").strlen("big2")
    assert p.execute() == [big, big[::-1], big, len(big)]


def test_slow_reader_gets_every_byte(cluster, certs):
    """A TLS client with a small receive buffer that reads late: the
    proxy's writes stop on WANT_WRITE many times and resume at the same
    bytes while other clients are served."""
    ps = start(cluster, certs)
    value = bytes(range(256)) * (1 << 12)  # 1 MB, a pattern that shows a skipped or repeated byte
    ps.client().set("pattern", value)
    s = ssl_socket(ps, certs, rcvbuf=4096)
    s.sendall(b"*2\r\n$3\r\nGET\r\n$7\r\npattern\r\n" * 2)
    time.sleep(0.3)  # the proxy fills the socket and waits for it to drain
    assert tls_client(ps, certs).ping() is True  # not stuck behind the slow reader
    want = (b"$%d\r\n" % len(value) + value + b"\r\n") * 2
    assert read_slowly(s, len(want), 1 << 19) == want
    s.close()


def test_pubsub_and_blpop(cluster, certs):
    ps = start(cluster, certs)
    sub = tls_client(ps, certs).pubsub()
    sub.subscribe("news")
    msg = sub.get_message(timeout=5)
    assert msg["type"] == "subscribe"
    plain = ps.client()
    wait_until(lambda: plain.publish("news", "from plain") >= 1, what="subscriber registered")
    msg = None
    for _ in range(20):
        msg = sub.get_message(timeout=1)
        if msg:
            break
    assert msg and msg["type"] == "message" and msg["data"] == b"from plain"
    assert tls_client(ps, certs).publish("news", "from tls") >= 1
    msg = sub.get_message(timeout=5)
    assert msg["data"] == b"from tls"
    sub.close()

    waiter = tls_client(ps, certs)
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("v", waiter.blpop("queue", timeout=10)))
    t.start()
    wait_until(lambda: sum(ps.direct(i).info("clients")["blocked_clients"] for i in (0, 1)) == 1,
               what="BLPOP blocked on its group")
    assert tls_client(ps, certs).rpush("queue", "job") == 1
    t.join(15)
    assert not t.is_alive()
    assert result["v"] == (b"queue", b"job")


def test_auth_clients_yes_and_optional(cluster, certs):
    ps = start(cluster, certs, auth="yes")
    with pytest.raises(redis.exceptions.ConnectionError):
        tls_client(ps, certs, cert=False, socket_timeout=5).ping()
    with pytest.raises(redis.exceptions.ConnectionError):
        tls_client(ps, certs, ssl_certfile=certs["stranger.crt"], ssl_keyfile=certs["stranger.key"],
                   socket_timeout=5).ping()
    r = redis_cli(ps, certs, "PING", cert=False)
    assert "PONG" not in r.stdout
    assert tls_client(ps, certs).ping() is True
    assert ps.client().ping() is True
    assert "peer did not return a certificate" in ps.proxy.tail(200)

    opt = start(cluster, certs, auth="optional")
    assert tls_client(opt, certs, cert=False).ping() is True
    r = redis_cli(opt, certs, "PING", cert=False)
    assert r.stdout.strip() == "PONG"
    assert tls_client(opt, certs).set("k", "v") is True
    with pytest.raises(redis.exceptions.ConnectionError):  # sent, so checked
        tls_client(opt, certs, ssl_certfile=certs["stranger.crt"], ssl_keyfile=certs["stranger.key"],
                   socket_timeout=5).ping()


def test_plain_client_on_tls_port(cluster, certs):
    ps = start(cluster, certs)
    good = tls_client(ps, certs)
    good.set("before", "1")
    s = socket.create_connection(("127.0.0.1", ps.tls_port), timeout=5)
    s.sendall(b"*1\r\n$4\r\nPING\r\n")
    data = b""
    try:
        for _ in range(100):  # the proxy closes it: EOF or reset
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    assert b"PONG" not in data
    s.close()
    silent = socket.create_connection(("127.0.0.1", ps.tls_port), timeout=5)
    assert good.get("before") == b"1"
    assert tls_client(ps, certs).ping() is True
    assert ps.client().ping() is True
    silent.close()
    assert "wrong version number" in ps.proxy.tail(200)


@pytest.mark.parametrize("bad,why", [
    ({"tls_cert_file": "/nonexistent.crt"}, "TLS: cannot load tls-cert-file"),
    ({"tls_key_file": "client.key"}, "key values mismatch"),
    ({"tls_port": "listen"}, "is also the plain port"),
])
def test_bad_tls_settings_refuse_to_start(cluster, certs, bad, why):
    port = free_port()
    opts = tls_opts(certs, free_port())
    for k, v in bad.items():
        opts[k] = {"client.key": certs["client.key"], "listen": port}.get(v, v)
    topo = write_file(cluster, "topology.yaml",
                      topology_text([("g1", "0-16383", ["127.0.0.1:1"])], proxy=opts))
    p = cluster.proxy(topo, port=port, start=False)
    p.start(wait=False)
    assert p.proc.wait(timeout=15) != 0
    assert why in p.tail(), p.tail()
    # strata-proxy -t says the same without starting.
    r = subprocess.run([p.args[0], "--config", topo, "--port", str(port), "-t"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and why.replace("TLS: ", "") in r.stdout + r.stderr, r


def test_reload_keeps_tls_as_started(cluster, certs):
    """SIGHUP re-reads the topology, but the TLS listeners and their
    context are made at start: a changed tls_* setting is reported and the
    TLS port goes on as before."""
    ps = start(cluster, certs, auth="yes")
    c = tls_client(ps, certs)
    c.set("k", "v")
    ps.proxy_opts["tls_auth_clients"] = "no"
    ps.proxy_opts["tls_port"] = free_port()
    ps.reload(ps.ranges)
    wait_until(lambda: "the tls_* settings change only at restart" in ps.proxy.tail(50),
               what="reload warning")
    wait_until(lambda: "reloaded" in ps.proxy.tail(50), what="reload done")
    assert c.get("k") == b"v"
    assert tls_client(ps, certs).get("k") == b"v"
    with pytest.raises(redis.exceptions.ConnectionError):  # still yes
        tls_client(ps, certs, cert=False, socket_timeout=5).ping()
    assert f"laddr=127.0.0.1:{ps.tls_port}" in redis_cli(ps, certs, "CLIENT", "INFO").stdout
