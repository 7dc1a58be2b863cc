"""TLS on strata-proxy's links to the nodes (proxy.tls_backend).

Two groups of one strata-node each; every node listens on its plain port
and on tls_port (tls_auth_clients yes: the proxy must show a certificate
from the CA).  The topology names the nodes' TLS ports, and the proxy,
with tls_backend: yes, tls_client_cert_file/key and the CA, reaches them
over TLS only: SET/GET in both groups, a pipeline of 1000, a 1 MB value
both ways, MULTI/EXEC, a BLPOP woken by another client (a private link),
SUBSCRIBE/PUBLISH, a RESP3 client (its RESP3 links), and `-t` asking the
nodes for their slot tables over TLS.  CLIENT LIST on each node shows the
proxy's links arriving on the TLS port (laddr=).  A proxy whose CA does
not know the nodes' certificates answers "backend unavailable", logs why
the verification failed, and leaves the nodes serving; so does one
whose certificate the nodes refuse, and start-up refuses a tls_backend
without a CA.  The CA and certificates come from conftest.py's `certs`.
"""
import re
import socket
import subprocess
import threading

import pytest
import redis

from harness import binary, free_port, wait_until
from proxy_util import even_ranges, group_of, keys_for_group, topology_text, write_file


class Env:
    def __init__(self, cluster, certs, nodes, proxy_opts, name="proxy"):
        self.cluster = cluster
        self.nodes = nodes
        self.ranges = even_ranges(len(nodes))
        groups = [(f"g{i + 1}", f"{lo}-{hi}", [f"127.0.0.1:{n.tls_port}"])
                  for i, ((lo, hi), n) in enumerate(zip(self.ranges, nodes))]
        opts = {"timeout_ms": 1000, "tls_backend": "yes"}
        opts.update(proxy_opts)
        self.topo = write_file(cluster, f"{name}.yaml", topology_text(groups, proxy=opts))
        self.proxy = cluster.proxy(self.topo, name=name)

    def client(self, **kw):
        kw.setdefault("socket_timeout", 10)
        return self.proxy.client(**kw)

    def log(self):
        with open(self.proxy.log_path, "rb") as f:
            return f.read().decode(errors="replace")


def start_nodes(cluster, certs, n=2):
    nodes = []
    for i in range(n):
        tls_port = free_port()
        node = cluster.node(name=f"node{i + 1}", args=[
            "--tls-port", str(tls_port), "--tls-cert-file", certs["server.crt"],
            "--tls-key-file", certs["server.key"], "--tls-ca-cert-file", certs["ca.crt"],
            "--tls-auth-clients", "yes"])
        node.tls_port = tls_port
        nodes.append(node)
    return nodes


def good_opts(certs):
    return {"tls_client_cert_file": certs["client.crt"], "tls_client_key_file": certs["client.key"],
            "tls_ca_cert_file": certs["ca.crt"]}


@pytest.fixture
def env(cluster, certs):
    return Env(cluster, certs, start_nodes(cluster, certs), good_opts(certs))


def proxy_links(node):
    """The node's clients other than the asking one: (laddr, resp) each."""
    c = node.client()
    me = c.client_id()
    out = []
    for e in c.client_list():
        if int(e["id"]) != me:
            out.append((e.get("laddr"), e.get("resp")))
    return out


def test_commands_in_both_groups_arrive_over_tls(env):
    c = env.client()
    k1, k2 = keys_for_group(env.ranges, 0, 1)[0], keys_for_group(env.ranges, 1, 1)[0]
    assert c.set(k1, "one") and c.set(k2, "two")
    assert c.mget(k1, k2) == [b"one", b"two"]
    # Each key is on its group's node (read over the node's plain port).
    assert env.nodes[0].client().get(k1) == b"one"
    assert env.nodes[1].client().get(k2) == b"two"
    for n in env.nodes:
        links = proxy_links(n)
        assert links, f"no proxy link on node {n.name}"
        for laddr, _ in links:
            assert laddr == f"127.0.0.1:{n.tls_port}", links
    assert "TLS to the nodes (tls_backend)" in env.log()


def test_pipeline_and_large_values(env):
    c = env.client(socket_timeout=30)
    keys = keys_for_group(env.ranges, 0, 500, prefix="p") + keys_for_group(env.ranges, 1, 500, prefix="p")
    p = c.pipeline(transaction=False)
    for i, k in enumerate(keys):
        p.set(k, f"v{i}")
    assert p.execute() == [True] * 1000
    p = c.pipeline(transaction=False)
    for k in keys:
        p.get(k)
    assert p.execute() == [f"v{i}".encode() for i in range(1000)]
    # 1 MB both ways: the TLS writes to the node and the proxy's reads of
    # its reply stop on full buffers and resume.
    big = bytes(range(256)) * 4096
    for g in (0, 1):
        k = keys_for_group(env.ranges, g, 1, prefix="big")[0]
        assert c.set(k, big)
        assert c.get(k) == big
        assert env.nodes[g].client().strlen(k) == len(big)
    # Replies of the whole pipeline larger than one TLS record.
    p = c.pipeline(transaction=False)
    k = keys_for_group(env.ranges, 1, 1, prefix="big")[0]
    for _ in range(8):
        p.get(k)
    assert p.execute() == [big] * 8


def test_multi_exec_blpop_and_pubsub(env):
    c = env.client()
    k = "{tx}k"
    p = c.pipeline(transaction=True)
    p.set(k, "1").incr(k).get(k)
    assert p.execute() == [True, 2, b"2"]

    # BLPOP blocks on a private link of its own, woken by another client.
    got = {}

    def pop():
        got["v"] = env.client(socket_timeout=20).blpop("{bl}list", timeout=10)
    t = threading.Thread(target=pop)
    t.start()
    g = group_of("{bl}list", env.ranges)

    def blocked():
        return any(e.get("cmd") == "blpop" for e in env.nodes[g].client().client_list())
    wait_until(blocked, 10, what="BLPOP blocked on the node")
    assert c.lpush("{bl}list", "woken") == 1
    t.join(15)
    assert got.get("v") == (b"{bl}list", b"woken")

    s = env.client().pubsub()
    s.subscribe("chan")
    wait_until(lambda: s.get_message(timeout=0.2), 10, what="subscribe confirmation")
    wait_until(lambda: c.publish("chan", "hello") >= 1, 10, what="a subscriber")
    msg = wait_until(lambda: s.get_message(timeout=0.2), 10, what="the message")
    assert msg["type"] == "message" and msg["data"] == b"hello"
    s.close()
    # Every link the proxy opened, shared or private, is on the TLS port.
    for n in env.nodes:
        for laddr, _ in proxy_links(n):
            assert laddr == f"127.0.0.1:{n.tls_port}"


def read_until(s, buf, end):
    while not buf.endswith(end):
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed; have {buf!r}")
        buf += chunk
    return buf


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def test_resp3_client(env):
    s = socket.create_connection(("127.0.0.1", env.proxy.port), timeout=10)
    s.sendall(resp("HELLO", "3") + resp("PING"))
    hello = read_until(s, b"", b"+PONG\r\n")
    assert hello.startswith(b"%")
    k = keys_for_group(env.ranges, 1, 1, prefix="r3")[0]
    s.sendall(resp("HSET", k, "f", "v") + resp("HGETALL", k))
    assert read_until(s, b"", b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n") == b":1\r\n%1\r\n$1\r\nf\r\n$1\r\nv\r\n"
    s.close()
    # The RESP3 link to the group's node is a TLS one too.
    links = proxy_links(env.nodes[1])
    assert (f"127.0.0.1:{env.nodes[1].tls_port}", "3") in links, links


def test_check_asks_the_nodes_over_tls(env, certs):
    """-t asks each group's node for its slot table, over TLS: answered
    with the right CA, "no node answered" with a CA that does not know
    the nodes."""
    def check(path):
        p = subprocess.run([binary("strata-proxy"), "--config", path, "-t"], capture_output=True, timeout=30)
        return p.returncode, (p.stdout + p.stderr).decode(errors="replace")
    rc, out = check(env.topo)
    assert rc == 0 and "configuration OK" in out and "no node answered" not in out, out
    with open(env.topo) as f:
        text = f.read()
    bad = write_file(env.cluster, "bad-ca.yaml", text.replace(certs["ca.crt"], certs["other.crt"]))
    rc, out = check(bad)
    assert "group g1: no node answered" in out and "group g2: no node answered" in out, out
    assert "certificate verify failed" in out, out


def test_wrong_ca_fails_commands_and_spares_the_nodes(cluster, certs):
    nodes = start_nodes(cluster, certs)
    opts = good_opts(certs)
    opts["tls_ca_cert_file"] = certs["other.crt"]  # not the CA of the nodes' certificates
    bad = Env(cluster, certs, nodes, opts, name="badproxy")
    c = bad.client()
    k1, k2 = keys_for_group(bad.ranges, 0, 1)[0], keys_for_group(bad.ranges, 1, 1)[0]
    for k in (k1, k2):
        with pytest.raises(redis.ResponseError) as e:
            c.set(k, "x")
        assert "backend unavailable" in str(e.value) and "certificate verify failed" in str(e.value), e.value
    wait_until(lambda: "certificate verify failed" in bad.log(), 10, what="the verification failure logged")
    # with the verification's own reason, whichever OpenSSL gives
    assert re.search(r"certificate verify failed \([a-z]", bad.log()), bad.log()
    # It keeps trying (and failing) without crashing.
    with pytest.raises(redis.ResponseError):
        c.get(k1)
    assert bad.proxy.alive() and c.ping()
    # The nodes serve on both ports, and keep nothing from the refused proxy.
    for n in nodes:
        assert n.client().ping()
        t = redis.Redis(host="127.0.0.1", port=n.tls_port, ssl=True, ssl_ca_certs=certs["ca.crt"],
                        ssl_certfile=certs["client.crt"], ssl_keyfile=certs["client.key"],
                        ssl_cert_reqs="required", socket_timeout=10)
        assert t.set("after", "ok") and t.get("after") == b"ok"
    assert nodes[0].client().get(k1) is None
    # A good proxy in front of the same nodes works.
    good = Env(cluster, certs, nodes, good_opts(certs), name="goodproxy")
    assert good.client().set(k1, "fine") and good.client().get(k1) == b"fine"


def test_start_refusals(cluster, certs):
    nodes = start_nodes(cluster, certs, 1)
    topo = topology_text([("g1", "0-16383", [f"127.0.0.1:{nodes[0].tls_port}"])],
                         proxy={"tls_backend": "yes"})
    path = write_file(cluster, "noca.yaml", topo)
    p = subprocess.run([binary("strata-proxy"), "--config", path, "--port", str(free_port())],
                       capture_output=True, timeout=30)
    err = (p.stdout + p.stderr).decode(errors="replace")
    assert p.returncode != 0 and "tls_backend" in err and "tls-ca-cert-file" in err, err
    topo = topology_text([("g1", "0-16383", [f"127.0.0.1:{nodes[0].tls_port}"])],
                         proxy={"tls_backend": "yes", "tls_ca_cert_file": certs["ca.crt"],
                                "tls_client_cert_file": certs["client.crt"]})
    path = write_file(cluster, "halfpair.yaml", topo)
    p = subprocess.run([binary("strata-proxy"), "--config", path, "-t"], capture_output=True, timeout=30)
    err = (p.stdout + p.stderr).decode(errors="replace")
    assert p.returncode != 0 and "tls_client_key_file" in err, err


def test_node_refuses_the_proxys_certificate(cluster, certs):
    """The nodes require a certificate from their CA: a proxy showing one
    from another CA is refused (in TLSv1.3 the node's alert comes after
    the handshake, on the first read), and its commands get errors."""
    nodes = start_nodes(cluster, certs)
    opts = good_opts(certs)
    opts["tls_client_cert_file"], opts["tls_client_key_file"] = certs["stranger.crt"], certs["stranger.key"]
    env = Env(cluster, certs, nodes, opts, name="strangerproxy")
    c = env.client()
    k = keys_for_group(env.ranges, 0, 1)[0]
    for _ in range(3):
        with pytest.raises(redis.ResponseError) as e:
            c.set(k, "x")
        assert "backend" in str(e.value), e.value
    wait_until(lambda: re.search(r"WARN .* down: TLS read: .*alert", env.log()), 10,
               what="the node's alert logged as a warning")
    assert env.proxy.alive() and nodes[0].client().get(k) is None
