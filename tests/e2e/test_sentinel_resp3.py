"""strata-sentinel in RESP3 (and RESP2), side by side with Redis Sentinel 7.0.

One setup serves the module: a real redis-server master with a replica
watched by two real Redis Sentinels (`redis-server --sentinel`), and a
strata-node master with a replica watched by two strata-sentinels, each
group named g1.  The same commands go to one sentinel of each kind over a
raw socket (redis-py 4.3 has no RESP3) and the replies are compared as
typed trees: the same RESP types and nesting, the same map keys in the same
order (Strata may append fields of its own after Redis's), the same error
and status texts; values that naturally differ (ids, ports, times,
counters, versions) by type only, a few stable ones (flags, roles, names)
by value.

The last test kills both replicas and compares the +sdown events as
RESP3 pushes; it runs last because of that.

test_node_redis_sentinel_resp3 runs node-redis's Sentinel client in RESP3
through a manual failover when node-redis is installed (npm install redis
in a directory named by $STRATA_NODE_MODULES, or where node finds it).
"""
import os
import shutil
import socket
import subprocess
import time

import pytest

from harness import Cluster, free_port, wait_until
from proxy_util import topology_text, write_file
from test_sentinel_common import start_group, start_sentinels, write_topology

PASSWORD = "s3cret"


# ---------------------------------------------------------------- a raw RESP2/RESP3 client

class Conn:
    """One connection; call() sends a command and returns its reply as a
    typed tree: (type, value) with type one of simple error int bulk nil
    array map set push verbatim double bool bignum; a map's value is a
    list of (key, value) pairs, a verbatim's is (format, text), a nil's the
    bytes it was sent as ("_", "$-1", "*-1")."""

    def __init__(self, port, timeout=5):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.s.close()

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))

    def call(self, *args):
        self.send(*args)
        return self.read()

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise ConnectionError("closed")
        self.buf += d

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        d, self.buf = self.buf[:n], self.buf[n + 2:]
        return d

    def read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return ("simple", rest.decode())
        if t == b"-":
            return ("error", rest.decode())
        if t == b":":
            return ("int", int(rest))
        if t == b",":
            return ("double", rest.decode())
        if t == b"(":
            return ("bignum", rest.decode())
        if t == b"#":
            return ("bool", rest == b"t")
        if t == b"_":
            return ("nil", "_")
        if t in (b"$", b"=", b"!"):
            n = int(rest)
            if n < 0:
                return ("nil", "$-1")
            d = self._exact(n)
            if t == b"=":
                return ("verbatim", (d[:3].decode(), d[4:].decode()))
            return ("bulk" if t == b"$" else "error", d.decode(errors="replace"))
        if t in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return ("nil", "*-1")
            kind = {b"*": "array", b"~": "set", b">": "push"}[t]
            return (kind, [self.read() for _ in range(n)])
        if t == b"%":
            return ("map", [(self.read(), self.read()) for _ in range(int(rest))])
        raise AssertionError(f"unexpected reply line {line!r}")


def hello3(port, *extra):
    c = Conn(port)
    r = c.call("HELLO", "3", *extra)
    assert r[0] == "map", r
    return c


# ---------------------------------------------------------------- comparing trees

# Map fields whose values are the same on both sides in this setup.
STABLE = {"flags", "role-reported", "master-link-status", "num-slaves",
          "num-other-sentinels", "quorum", "down-after-milliseconds", "server", "proto",
          "mode", "voted-leader", "link-refcount"}


def plain(v):
    """The Python value of a scalar tree."""
    return v[1]


def flat_instance(t):
    return len(t[1]) % 2 == 0 and t[1][:1] == [("bulk", "name")]


def same(ours, theirs, path="reply", exact=False):
    """Assert that Strata's tree `ours` matches Redis's `theirs`."""
    assert ours[0] == theirs[0], f"{path}: type {ours[0]} ({ours!r:.200}), Redis {theirs[0]} ({theirs!r:.200})"
    t = ours[0]
    if t in ("error", "simple", "nil", "bool"):
        assert ours[1] == theirs[1], f"{path}: {ours[1]!r} vs Redis {theirs[1]!r}"
    elif t in ("bulk", "int", "double", "bignum") and exact:
        assert ours[1] == theirs[1], f"{path}: {ours[1]!r} vs Redis {theirs[1]!r}"
    elif t == "verbatim":
        assert ours[1][0] == theirs[1][0], f"{path}: verbatim format"
    elif t == "array" and flat_instance(theirs):
        # RESP2's form of a Sentinel instance map: name, value, name, ...
        pairs = lambda x: list(zip(x[1][::2], x[1][1::2]))  # noqa: E731
        same(("map", pairs(ours)), ("map", pairs(theirs)), path, exact)
    elif t in ("array", "set", "push"):
        assert len(ours[1]) == len(theirs[1]), \
            f"{path}: {len(ours[1])} elements, Redis {len(theirs[1])}: {ours!r:.300} / {theirs!r:.300}"
        for i, (a, b) in enumerate(zip(ours[1], theirs[1])):
            same(a, b, f"{path}[{i}]", exact)
    elif t == "map":
        ok = [plain(k) for k, _ in ours[1]]
        tk = [plain(k) for k, _ in theirs[1]]
        # Strata appends its own fields (epoch, lsn, ...) after Redis's.
        assert ok[:len(tk)] == tk, f"{path}: keys {ok}\n  Redis {tk}"
        for (k, a), (_, b) in zip(ours[1], theirs[1]):
            same(k, k, path, True)
            same(a, b, f"{path}.{plain(k)}", exact or plain(k) in STABLE)


def both(setup, *cmd, proto=3, exact=False, conns=None):
    """Run cmd on a Strata and a Redis sentinel; compare; return both trees."""
    if conns is None:
        conns = setup.conns(proto)
    ours, theirs = conns[0].call(*cmd), conns[1].call(*cmd)
    same(ours, theirs, " ".join(map(str, cmd)), exact)
    return ours, theirs


# ---------------------------------------------------------------- the setup

def redis_sentinel(cluster, name, master_port, quorum=2, extra=()):
    port = free_port()
    conf = write_file(cluster, f"{name}.conf", "\n".join([
        f"port {port}", "bind 127.0.0.1", f"dir {cluster.path(name, '')}",
        f"sentinel monitor g1 127.0.0.1 {master_port} {quorum}",
        "sentinel down-after-milliseconds g1 1000",
        "sentinel failover-timeout g1 60000", *extra]) + "\n")
    return cluster._new(name, ["redis-server", conf, "--sentinel"], port, True)


class Setup:
    def __init__(self, cluster):
        self.cluster = cluster
        # Redis: master, replica in sync, then two sentinels.
        self.rm = cluster.redis("redis-m")
        self.rr = cluster.redis("redis-r", args=["--replicaof", "127.0.0.1", str(self.rm.port)])
        wait_until(lambda: self.rr.client().info("replication")["master_link_status"] == "up", 20,
                   what="redis replica in sync")
        self.rs = [redis_sentinel(cluster, f"redis-sentinel{i}", self.rm.port) for i in range(2)]
        # Strata: the same shape.
        self.nodes = start_group(cluster, "g1", nreplicas=1)
        ports = [free_port(), free_port()]
        topo = write_topology(cluster, [("g1", "0-16383", self.nodes)], ports, quorum=2)
        self.ss = start_sentinels(cluster, topo, ports)
        for s in self.rs:
            wait_until(lambda s=s: self._redis_ready(s), 30, what=f"{s.name} sees replica and peer")
        for s in self.ss:
            wait_until(lambda s=s: s.client().sentinel_master("g1")["num-slaves"] == 1 and
                       len(s.client().sentinel_slaves("g1")) == 1 and
                       s.client().sentinel_slaves("g1")[0]["master-link-status"] == "ok", 20,
                       what=f"{s.name} sees its replica")
        self.open = []

    @staticmethod
    def _redis_ready(s):
        m = s.client().sentinel_master("g1")
        slaves = s.client().sentinel_slaves("g1")
        return (m["num-slaves"] == 1 and m["num-other-sentinels"] == 1 and
                slaves[0]["master-link-status"] == "ok" and
                all(x["voted-leader"] == "?" for x in s.client().sentinel_sentinels("g1")))

    def conns(self, proto=3):
        """(strata, redis) connections in `proto`."""
        pair = []
        for p in (self.ss[0], self.rs[0]):
            c = Conn(p.port)
            if proto == 3:
                assert c.call("HELLO", "3")[0] == "map"
            pair.append(c)
        self.open += pair
        return pair

    def close(self):
        for c in self.open:
            try:
                c.close()
            except OSError:
                pass


@pytest.fixture(scope="module")
def setup():
    cluster = Cluster(prefix="strata-sentinel-resp3-")
    ok = False
    try:
        s = Setup(cluster)
        yield s
        s.close()
        ok = True
    finally:
        if not ok:
            for p in cluster.procs:
                print(f"\n--- {p.name} log (tail) ---\n{p.tail()}")
        cluster.close(keep=not ok and bool(os.environ.get("STRATA_KEEP_FAILED")))
        assert not cluster.sanitizer_reports, cluster.sanitizer_reports


# ---------------------------------------------------------------- tests

def test_hello(setup):
    s, r = setup.conns(proto=2)
    # Bare HELLO keeps RESP2: a flat array of six pairs, no "role" in
    # sentinel mode.
    ours, theirs = both(setup, "HELLO", conns=(s, r))
    assert ours[0] == "array" and len(ours[1]) == 12
    assert [plain(x) for x in ours[1][::2]] == ["server", "version", "proto", "id", "mode", "modules"]
    ours, theirs = both(setup, "HELLO", "3", conns=(s, r))
    assert ours[0] == "map" and dict((plain(k), v) for k, v in ours[1])["proto"] == ("int", 3)
    # id is the connection's CLIENT ID.
    hid = dict((plain(k), v) for k, v in ours[1])["id"]
    assert s.call("CLIENT", "ID") == hid
    # Now in RESP3: bare HELLO answers a map with proto 3.
    ours, _ = both(setup, "HELLO", conns=(s, r))
    assert ours[0] == "map"
    both(setup, "CLIENT", "GETNAME", conns=(s, r))          # _ now
    ours, _ = both(setup, "HELLO", "3", "SETNAME", "app-1", conns=(s, r))
    assert s.call("CLIENT", "GETNAME") == ("bulk", "app-1") == r.call("CLIENT", "GETNAME")
    for bad in (["HELLO", "4"], ["HELLO", "1"], ["HELLO", "x"], ["HELLO", "3", "FOO"],
                ["HELLO", "3", "SETNAME"], ["HELLO", "2", "AUTH", "default"],
                ["HELLO", "3", "SETNAME", "a b"], ["HELLO", "3", "setname", "x", "extra"]):
        ours, _ = both(setup, *bad, conns=(s, r))
        assert ours[0] == "error", bad
    # The failed HELLOs changed nothing: still RESP3, still named app-1.
    assert s.call("CLIENT", "GETNAME") == ("bulk", "app-1")
    assert s.call("SENTINEL", "get-master-addr-by-name", "nope") == ("nil", "_")
    # Back to RESP2, with AUTH default <anything> accepted (no password:
    # the default user takes any) and the name cleared by "".
    ours, _ = both(setup, "HELLO", "2", "AUTH", "default", "whatever", "SETNAME", "", conns=(s, r))
    assert ours[0] == "array"
    both(setup, "CLIENT", "GETNAME", conns=(s, r))
    assert s.call("CLIENT", "GETNAME") == ("nil", "$-1")
    assert s.call("SENTINEL", "get-master-addr-by-name", "nope") == ("nil", "*-1")


def test_hello_auth(setup):
    """A password: HELLO's NOAUTH and WRONGPASS, HELLO AUTH logging in."""
    cluster = setup.cluster
    rs = redis_sentinel(cluster, "redis-sentinel-pw", setup.rm.port, extra=[f"requirepass {PASSWORD}"])
    # Its group is not reachable: HELLO needs no node.
    port = free_port()
    topo = write_file(cluster, "topology-pw.yaml", topology_text(
        [("g1", "0-16383", [f"127.0.0.1:{free_port()}"])], password=PASSWORD,
        sentinel={"addrs": f"[127.0.0.1:{port}]", "quorum": 1, "down_after_ms": 1000}))
    ss = cluster.sentinel(topo, name="sentinel-pw", port=port)
    s, r = Conn(ss.port), Conn(rs.port)
    try:
        for cmd in (["PING"], ["HELLO"], ["HELLO", "3"], ["HELLO", "2"], ["FOO", "x"], ["PING", "a", "b"],
                    ["SENTINEL", "masters", "x"], ["SENTINEL", "masters"], ["CLIENT", "ID"],
                    ["HELLO", "3", "AUTH", "default", "wrong"], ["HELLO", "3", "AUTH", "bob", PASSWORD],
                    ["HELLO", "3", "SETNAME", "x"], ["AUTH", "a", "b", "c"], ["AUTH"], ["AUTH", "wrong"],
                    ["HELLO", "9", "AUTH", "default", PASSWORD]):
            ours, _ = both(setup, *cmd, conns=(s, r))
            assert ours[0] == "error", cmd
        ours, _ = both(setup, "HELLO", "3", "SETNAME", "pw-client", "AUTH", "default", PASSWORD,
                       conns=(s, r))
        assert ours[0] == "map"
        both(setup, "PING", conns=(s, r))
        both(setup, "CLIENT", "GETNAME", conns=(s, r), exact=True)
        # A bad name after a good password: logged in, but no name, still RESP3.
        s2, r2 = Conn(ss.port), Conn(rs.port)
        ours, _ = both(setup, "HELLO", "3", "AUTH", "default", PASSWORD, "SETNAME", "a\nb", conns=(s2, r2))
        assert ours[0] == "error"
        both(setup, "CLIENT", "GETNAME", conns=(s2, r2))
        assert s2.call("CLIENT", "GETNAME") == ("nil", "$-1")
        s2.close()
        r2.close()
    finally:
        s.close()
        r.close()
        ss.close()
        rs.close()


SENTINEL_CMDS = [
    ["SENTINEL", "masters"],
    ["SENTINEL", "master", "g1"],
    ["SENTINEL", "replicas", "g1"],
    ["SENTINEL", "slaves", "g1"],
    ["SENTINEL", "sentinels", "g1"],
    ["SENTINEL", "get-master-addr-by-name", "g1"],
    ["SENTINEL", "get-master-addr-by-name", "nope"],
    ["SENTINEL", "ckquorum", "g1"],
    ["SENTINEL", "myid"],
    ["SENTINEL", "reset", "nope"],
    ["ROLE"],
    ["PING"],
    ["PING", "hi"],
    ["CLIENT", "ID"],
    ["CLIENT", "GETNAME"],
    ["CLIENT", "SETNAME", "n1"],
    ["CLIENT", "GETNAME"],
    # errors, each with Redis's text
    ["SENTINEL", "master", "nope"],
    ["SENTINEL", "replicas", "nope"],
    ["SENTINEL", "sentinels", "nope"],
    ["SENTINEL", "ckquorum", "nope"],
    ["SENTINEL", "failover", "nope"],
    ["SENTINEL", "nosuch"],
    ["SENTINEL", "masters", "extra"],
    ["sentinel", "Get-Master-Addr-By-Name"],
    ["SENTINEL", "reset"],
    ["SENTINEL"],
    ["CLIENT"],
    ["CLIENT", "nosuch", "x"],
    ["CLIENT", "SETNAME", "a b"],
    ["CLIENT", "SETNAME"],
    ["CLIENT", "ID", "x"],
    ["ROLE", "x"],
    ["PING", "a", "b"],
    ["NOSUCH"],
    ["NOSUCH", "a", "b c"],
    ["NOSUCH", "x" * 200, "y"],
]


@pytest.mark.parametrize("proto", [3, 2])
def test_sentinel_commands(setup, proto):
    conns = setup.conns(proto)
    for cmd in SENTINEL_CMDS:
        both(setup, *cmd, conns=conns)
    ours, _ = both(setup, "SENTINEL", "masters", conns=conns)
    assert ours[0] == "array" and ours[1][0][0] == ("map" if proto == 3 else "array")
    fields = ours[1][0][1] if proto == 3 else list(zip(ours[1][0][1][::2], ours[1][0][1][1::2]))
    assert fields[0] == (("bulk", "name"), ("bulk", "g1"))
    ours, _ = both(setup, "SENTINEL", "get-master-addr-by-name", "g1", conns=conns)
    assert ours[1][1] == ("bulk", str(setup.nodes[0].port))


@pytest.mark.parametrize("proto", [3, 2])
def test_info_and_client_list(setup, proto):
    s, r = setup.conns(proto)
    for sec in ([], ["server"], ["sentinel"], ["clients"]):
        ours, theirs = both(setup, "INFO", *sec, conns=(s, r))
        # Redis 7.0 sends INFO as a bulk string in RESP3 too (verbatim only
        # from 7.2 on).
        assert ours[0] == "bulk"
        heads = lambda t: [l for l in t[1].split("\r\n") if l.startswith("#")]  # noqa: E731
        assert heads(ours) == heads(theirs), sec
    for cmd in (["CLIENT", "LIST"], ["CLIENT", "INFO"]):
        ours, theirs = both(setup, *cmd, conns=(s, r))
        assert ours[0] == ("verbatim" if proto == 3 else "bulk")
        text = lambda t: t[1][1] if t[0] == "verbatim" else t[1]  # noqa: E731
        mine = [ln for ln in text(ours).split("\n") if ln]
        ref = [ln for ln in text(theirs).split("\n") if ln]
        assert text(ours).endswith("\n")
        keys = lambda ln: [kv.split("=", 1)[0] for kv in ln.split(" ")]  # noqa: E731
        assert keys(mine[-1]) == keys(ref[-1])
        me = dict(kv.split("=", 1) for kv in mine[-1].split(" "))
        assert me["resp"] == str(proto) and me["cmd"] == "client|" + cmd[1].lower()
        assert me["id"] == str(plain(s.call("CLIENT", "ID")))
    both(setup, "CLIENT", "LIST", "TYPE", conns=(s, r))


def test_pubsub_resp3(setup):
    s, r = setup.conns(3)
    conns = (s, r)
    ours, _ = both(setup, "SUBSCRIBE", "a", conns=conns)
    assert ours[0] == "push" and ours[1][0] == ("bulk", "subscribe")
    s.send("SUBSCRIBE", "b", "c")
    r.send("SUBSCRIBE", "b", "c")
    for _ in range(2):
        same(s.read(), r.read(), "SUBSCRIBE b c", exact=True)
    # INFO counts distinct channels: a second subscriber to "a" adds none.
    s2, r2 = setup.conns(3)
    both(setup, "SUBSCRIBE", "a", conns=(s2, r2), exact=True)
    stats = lambda c: dict(ln.split(":", 1) for ln in plain(c.call("INFO", "stats")).split("\r\n")[1:] if ln)  # noqa: E731
    assert stats(s2)["pubsub_channels"] == stats(r2)["pubsub_channels"] == "3"
    assert stats(s2)["pubsub_patterns"] == stats(r2)["pubsub_patterns"] == "0"
    s2.close()
    r2.close()
    # RESP3 subscribers run any command, and PING is the plain PING.
    assert both(setup, "PING", conns=conns)[0] == ("simple", "PONG")
    assert both(setup, "PING", "x", conns=conns)[0] == ("bulk", "x")
    for cmd in SENTINEL_CMDS[:8] + [["ROLE"], ["CLIENT", "GETNAME"], ["HELLO", "3"]]:
        both(setup, *cmd, conns=conns)
    both(setup, "PSUBSCRIBE", "+sdown", conns=conns, exact=True)
    both(setup, "UNSUBSCRIBE", "a", conns=conns, exact=True)
    both(setup, "UNSUBSCRIBE", "nope", conns=conns, exact=True)
    both(setup, "PUNSUBSCRIBE", "+sdown", conns=conns, exact=True)
    # Unsubscribing from everything: one push per channel (Redis's order
    # is its dict's), then a push with a null channel when none is left.
    s.send("UNSUBSCRIBE")
    r.send("UNSUBSCRIBE")
    got = [s.read(), s.read()]
    want = [r.read(), r.read()]
    for a, b in zip(got, want):
        same(a, b, "UNSUBSCRIBE")
    assert sorted(plain(x[1][1]) for x in got) == ["b", "c"]
    assert [plain(x[1][2]) for x in got] == [1, 0]
    ours, _ = both(setup, "UNSUBSCRIBE", conns=conns, exact=True)
    assert ours == ("push", [("bulk", "unsubscribe"), ("nil", "_"), ("int", 0)])
    ours, _ = both(setup, "PUNSUBSCRIBE", conns=conns, exact=True)


def test_pubsub_resp2_context(setup):
    s, r = setup.conns(2)
    conns = (s, r)
    ours, _ = both(setup, "SUBSCRIBE", "a", conns=conns, exact=True)
    assert ours[0] == "array"
    assert both(setup, "PING", conns=conns)[0] == ("array", [("bulk", "pong"), ("bulk", "")])
    both(setup, "PING", "x", conns=conns, exact=True)
    for cmd in (["SENTINEL", "masters"], ["SENTINEL", "get-master-addr-by-name", "g1"], ["ROLE"],
                ["CLIENT", "ID"], ["HELLO", "3"], ["INFO"], ["SENTINEL", "nosuch"], ["ROLE", "x"]):
        ours, _ = both(setup, *cmd, conns=conns)
        assert ours[0] == "error"
    ours, _ = both(setup, "UNSUBSCRIBE", conns=conns, exact=True)
    ours, _ = both(setup, "UNSUBSCRIBE", conns=conns, exact=True)
    assert ours == ("array", [("bulk", "unsubscribe"), ("nil", "$-1"), ("int", 0)])
    both(setup, "ROLE", conns=conns)


NODE_SCRIPT = r"""
const { createSentinel } = require('redis');
const ports = process.argv[2].split(',');
(async () => {
  const s = createSentinel({ name: 'g1', RESP: 3,
    sentinelRootNodes: ports.map(p => ({ host: '127.0.0.1', port: Number(p) })) });
  s.on('error', e => console.log('error', String(e)));
  await s.connect();
  await s.set('nr:k', 'v');
  console.log('get', await s.get('nr:k'));
  console.log('master', s.getMasterNode().port);
  let i = 0, stop = false;
  process.stdin.on('data', d => { if (String(d).includes('stop')) stop = true; });
  while (!stop) {
    try { await s.set('nr:' + i, String(i)); console.log('ok', i); }
    catch (e) { console.log('fail', i, String(e)); }
    i++;
    await new Promise(r => setTimeout(r, 20));
  }
  console.log('master', s.getMasterNode().port);
  await s.close();
  process.exit(0);
})().catch(e => { console.log('fatal', String(e)); process.exit(1); });
"""


def node_redis_dir():
    """A directory from which node can require('redis') (node-redis 5+,
    which has RESP3 and createSentinel), or None."""
    node = shutil.which("node")
    if not node:
        return None
    js = os.environ.get("STRATA_JS_DIR")  # deploy/test.sh installs node-redis there
    for d in (os.environ.get("STRATA_NODE_MODULES"), js, os.getcwd()):
        if d and subprocess.run([node, "-e", "require('redis').createSentinel"], cwd=d,
                                capture_output=True).returncode == 0:
            return d
    return None


def test_node_redis_sentinel_resp3(cluster):
    d = node_redis_dir()
    if not d:
        pytest.skip("node-redis not installed (deploy/test.sh installs it into $STRATA_JS_DIR)")
    nodes = start_group(cluster, "g1", nreplicas=1)
    ports = [free_port(), free_port()]
    topo = write_topology(cluster, [("g1", "0-16383", nodes)], ports, quorum=2)
    ss = start_sentinels(cluster, topo, ports)
    script = write_file(cluster, "node_redis_sentinel.js", NODE_SCRIPT)
    # require() looks beside the script, then in NODE_PATH.
    env = dict(os.environ, NODE_PATH=os.path.join(d, "node_modules"))
    p = subprocess.Popen(["node", script, ",".join(str(x) for x in ports)], cwd=d, env=env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = [p.stdout.readline().strip() for _ in range(3)]
        assert first[:2] == ["get v", f"master {nodes[0].port}"], first
        assert ss[0].client().execute_command("SENTINEL", "FAILOVER", "g1") == b"OK"
        wait_until(lambda: nodes[1].client().info("replication")["role"] == "master", 15,
                   what="the replica promoted")
        time.sleep(1.5)  # node-redis hears +switch-master and moves its writes
        p.stdin.write("stop\n")
        p.stdin.flush()
        out = p.communicate(timeout=30)[0].splitlines()
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, out[-20:]
    assert out[-1] == f"master {nodes[1].port}", out[-20:]
    oks = [int(x.split()[1]) for x in out if x.startswith("ok ")]
    assert len(oks) > 20 and not [x for x in out if x.startswith(("fail", "fatal"))], out[-20:]
    # The last write went to the new master.
    assert nodes[1].client().get(f"nr:{oks[-1]}") == str(oks[-1]).encode()


def test_zz_events_are_pushes(setup):
    """+sdown of a killed replica reaches a RESP3 subscriber as a push
    (pmessage and message forms) and a RESP2 one as an array."""
    s3, r3 = setup.conns(3)
    s2, r2 = setup.conns(2)
    for a, b in ((s3, r3), (s2, r2)):
        both(setup, "PSUBSCRIBE", "*", conns=(a, b), exact=True)
        both(setup, "SUBSCRIBE", "+sdown", conns=(a, b), exact=True)
    setup.rr.kill()
    setup.nodes[1].kill()

    def sdown(conn):
        """Read until the +sdown event of the slave came in both forms:
        {"message": tree, "pmessage": tree}."""
        got = {}
        conn.s.settimeout(15)
        deadline = time.monotonic() + 15
        while len(got) < 2 and time.monotonic() < deadline:
            m = conn.read()
            if ("bulk", "+sdown") in m[1] and plain(m[1][-1]).startswith("slave "):
                got[plain(m[1][0])] = m
        assert len(got) == 2, got
        return got

    for a, b in ((s3, r3), (s2, r2)):
        ours, theirs = sdown(a), sdown(b)
        for kind in ("pmessage", "message"):
            same(ours[kind], theirs[kind], f"+sdown {kind}")
            assert ours[kind][0] == ("push" if a is s3 else "array")
            # "slave <ip:port> <ip> <port> @ <master> <ip> <port>"
            assert len(plain(ours[kind][1][-1]).split()) == len(plain(theirs[kind][1][-1]).split()) == 8
    # The replica as each now describes it: the flags in Redis's order,
    # s-down-time after last-ping-reply.
    s, r = setup.conns(3)
    ours, _ = both(setup, "SENTINEL", "replicas", "g1", conns=(s, r))
    fields = dict((plain(k), plain(v)) for k, v in ours[1][0][1])
    assert fields["flags"] == "s_down,slave,disconnected" and "s-down-time" in fields
    both(setup, "SENTINEL", "master", "g1", conns=(s, r))
