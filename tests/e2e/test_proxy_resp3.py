"""strata-proxy and RESP3 clients: HELLO, replies compared byte for byte
with a redis-server reference in RESP3 (strings, hashes, sets, zsets,
lists, the merges of split commands, MULTI, blocking pops, errors),
pub/sub pushes while other commands run, keyspace notifications from
every group, RESP2 and RESP3 clients side by side on the same shared
links, and CLIENT TRACKING invalidations from every group.

The backends are redis-server, so this checks the proxy alone; the same
proxy code serves strata-node groups.  The raw client below reads one
reply (or push) at a time and returns its bytes unparsed, so a wrong type
(a RESP2 nil where RESP3 wants `_`, an array where Redis sends a map)
fails the comparison."""
import socket
import time

import pytest

from proxy_util import ProxySetup, keys_for_group, wait_until


def _line(buf, pos):
    end = buf.index(b"\r\n", pos)
    return buf[pos:end], end + 2


def span(buf, pos=0):
    """End of the RESP2/RESP3 value at buf[pos:], or raise IndexError /
    ValueError when it is incomplete."""
    t = buf[pos:pos + 1]
    if not t:
        raise IndexError
    line, nxt = _line(buf, pos)
    body = line[1:]
    if t in b"+-:_,#(":
        return nxt
    if t in b"$!=":
        n = int(body)
        if n < 0:
            return nxt
        if len(buf) < nxt + n + 2:
            raise IndexError
        return nxt + n + 2
    if t in b"*~>%|":
        n = int(body)
        if n < 0:
            return nxt
        if t in b"%|":
            n *= 2
        p = nxt
        for _ in range(n):
            p = span(buf, p)
        if t == b"|":
            return span(buf, p)
        return p
    raise ValueError(f"bad type byte {t!r} in {buf[pos:pos + 40]!r}")


def parse(raw):
    """A value as Python data (maps as dicts of bytes), for the few checks
    that cannot compare bytes (ids, orders)."""
    def val(p):
        t = raw[p:p + 1]
        line, nxt = _line(raw, p)
        body = line[1:]
        if t in b"+-(":
            return body, nxt
        if t == b":":
            return int(body), nxt
        if t == b"_":
            return None, nxt
        if t == b",":
            return float(body), nxt
        if t == b"#":
            return body == b"t", nxt
        if t in b"$!=":
            n = int(body)
            if n < 0:
                return None, nxt
            return raw[nxt:nxt + n], nxt + n + 2
        n = int(body)
        if n < 0:
            return None, nxt
        items, q = [], nxt
        for _ in range(2 * n if t == b"%" else n):
            v, q = val(q)
            items.append(v)
        if t == b"%":
            return dict(zip(items[0::2], items[1::2])), q
        return items, q
    return val(0)[0]


class Raw:
    """A RESP client that returns replies as raw bytes."""

    def __init__(self, port, proto=None):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        if proto:
            self.hello = self.call("HELLO", str(proto))

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))

    def read(self, timeout=10):
        deadline = time.time() + timeout
        while True:
            try:
                end = span(self.buf)
                raw, self.buf = self.buf[:end], self.buf[end:]
                return raw
            except (IndexError, ValueError) as e:
                if isinstance(e, ValueError) and "bad type" in str(e):
                    raise
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError(f"no complete reply; have {self.buf[:200]!r}")
            self.s.settimeout(left)
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def quiet(self, wait=0.3):
        """Nothing more arrives within `wait` seconds."""
        self.s.settimeout(wait)
        try:
            chunk = self.s.recv(65536)
        except socket.timeout:
            chunk = b""
        self.buf += chunk
        return self.buf == b""

    def call(self, *args):
        self.send(*args)
        return self.read()

    def close(self):
        self.s.close()


@pytest.fixture
def env(cluster):
    """A proxy over two redis-server groups, and a redis-server reference."""
    setup = ProxySetup(cluster, 2)
    ref = cluster.redis(name="reference")
    setup.ref_port = ref.port
    return setup


def both(env, proto=3):
    return Raw(env.proxy.port, proto), Raw(env.ref_port, proto)


def same(p, r, *cmd):
    a, b = p.call(*cmd), r.call(*cmd)
    assert a == b, f"{cmd}: proxy {a!r} != redis {b!r}"
    return a


def test_hello_switches_protocol(env):
    p = Raw(env.proxy.port)
    r = Raw(env.ref_port)
    for c in (p, r):
        c.replies = []
    for args in (("HELLO", "3"), ("HELLO",), ("HELLO", "2"), ("HELLO", "3", "SETNAME", "n1"),
                 ("HELLO", "3", "AUTH", "default", "x", "SETNAME", "n2"),
                 ("HELLO", "4"), ("HELLO", "x"), ("HELLO", "3", "FOO"),
                 ("HELLO", "3", "SETNAME", "a b")):
        a, b = p.call(*args), r.call(*args)
        if b[:1] in b"%*":
            # same shape; only the connection id differs
            assert a[:4] == b[:4], (args, a, b)
            pa, pb = parse(a), parse(b)
            if isinstance(pa, list):
                pa = dict(zip(pa[0::2], pa[1::2]))
                pb = dict(zip(pb[0::2], pb[1::2]))
            assert pa.keys() == pb.keys() and pa[b"proto"] == pb[b"proto"], (args, a, b)
            assert isinstance(pa[b"id"], int)
            assert pa[b"modules"] == [] and pa[b"server"] == b"redis"
        else:
            assert a == b, (args, a, b)
    # the connection is now RESP3 (the failed HELLOs changed nothing)
    assert same(p, r, "GET", "nosuchkey") == b"_\r\n"
    # (without a password, AUTH default <anything> succeeds, as in Redis)
    assert same(p, r, "CLIENT", "GETNAME") == b"$2\r\nn2\r\n"
    # HELLO 2 goes back to RESP2 nils
    p.call("HELLO", "2")
    r.call("HELLO", "2")
    assert same(p, r, "GET", "nosuchkey") == b"$-1\r\n"


def test_types_byte_for_byte(env):
    p, r = both(env)
    # hash tags keep each key's relatives (k + "h", ...) in its group
    ka = ["{%s}" % k for k in keys_for_group(env.ranges, 0, 1, prefix="t3a")]
    kb = ["{%s}" % k for k in keys_for_group(env.ranges, 1, 1, prefix="t3b")]
    for k in (ka[0], kb[0]):
        for cmd in (
            ("SET", k, "v"), ("GET", k), ("APPEND", k, "w"), ("STRLEN", k),
            ("SET", k + "n", "10"), ("INCRBYFLOAT", k + "n", "1.5"), ("INCR", k),
            ("GETDEL", k + "missing"), ("SET", k, "v", "GET"), ("TTL", k),
            ("HSET", k + "h", "f1", "1", "f2", "2"), ("HGETALL", k + "h"),
            ("HMGET", k + "h", "f1", "nope"), ("HGET", k + "h", "nope"), ("HINCRBYFLOAT", k + "h", "f1", "0.25"),
            ("HGETALL", k + "nohash"), ("HGET", k, "x"),
            ("SADD", k + "s", "a", "b", "c"), ("SISMEMBER", k + "s", "a"),
            ("SMISMEMBER", k + "s", "a", "z"), ("SPOP", k + "nos"),
            ("ZADD", k + "z", "1.5", "a", "2", "b", "-inf", "c"), ("ZSCORE", k + "z", "a"),
            ("ZSCORE", k + "z", "nope"), ("ZRANGE", k + "z", "0", "-1", "WITHSCORES"),
            ("ZINCRBY", k + "z", "0.5", "a"), ("ZPOPMIN", k + "z"), ("ZPOPMAX", k + "z", "2"),
            ("ZMSCORE", k + "z", "a", "x"), ("ZRANDMEMBER", k + "noz"),
            ("RPUSH", k + "l", "x", "y", "z"), ("LRANGE", k + "l", "0", "-1"), ("LPOP", k + "l"),
            ("LPOS", k + "l", "nope"), ("LINDEX", k + "l", "9"), ("RPOP", k + "l", "5"),
            ("LPOP", k + "nolist", "2"),
            ("OBJECT", "ENCODING", k + "nokey"), ("TYPE", k + "h"), ("EXPIRE", k, "100"),
            ("PERSIST", k), ("COPY", k, k + "copy"),
        ):
            same(p, r, *cmd)
    # a set's order is its hash table's: compare the elements
    for k in (ka[0], kb[0]):
        a, b = p.call("SMEMBERS", k + "s"), r.call("SMEMBERS", k + "s")
        assert a[:3] == b[:3] == b"~3\r" and sorted(parse(a)) == sorted(parse(b))
    # errors are the same in both protocols
    for cmd in (("GET",), ("LPUSH", ka[0] + "h", "x"), ("NOSUCHCMD", "a"), ("INCR", ka[0]),
                ("ZADD", ka[0] + "zz", "x", "m")):
        same(p, r, *cmd)


def test_merges_byte_for_byte(env):
    p, r = both(env)
    ka = keys_for_group(env.ranges, 0, 4, prefix="m3a")
    kb = keys_for_group(env.ranges, 1, 4, prefix="m3b")
    keys = [x for pair in zip(ka, kb) for x in pair]
    same(p, r, "RANDOMKEY")
    same(p, r, "DBSIZE")
    mset = ["MSET"]
    for i, k in enumerate(keys[:6]):
        mset += [k, f"v{i}"]
    same(p, r, *mset)
    same(p, r, "MGET", *keys)
    same(p, r, "EXISTS", *keys, keys[0])
    same(p, r, "TOUCH", *keys)
    same(p, r, "DBSIZE")
    # KEYS: the same elements (the order of a concatenation differs)
    a, b = p.call("KEYS", "m3*"), r.call("KEYS", "m3*")
    assert a[:4] == b[:4] and sorted(parse(a)) == sorted(parse(b))
    # SCAN: [cursor, [keys]] in every step, the same keys in the end
    seen, cur = [], b"0"
    while True:
        raw = p.call("SCAN", cur, "COUNT", "3")
        assert raw.startswith(b"*2\r\n$")
        cur, batch = parse(raw)
        seen += batch
        if cur == b"0":
            break
    assert sorted(seen) == sorted(parse(r.call("KEYS", "*")))
    # INFO keyspace: a verbatim string in RESP3
    info = p.call("INFO", "keyspace")
    assert info.startswith(b"=") and b"txt:" in info[:12]
    assert b"db0:keys=6," in info
    info_all = p.call("INFO")
    assert info_all.startswith(b"=") and b"# Keyspace" in info_all
    assert r.call("INFO", "keyspace").startswith(b"=")
    assert p.call("RANDOMKEY").startswith(b"$")
    same(p, r, "UNLINK", keys[0], keys[1])
    same(p, r, "DEL", *keys)
    same(p, r, "MGET", *keys)
    same(p, r, "FLUSHALL")
    same(p, r, "RANDOMKEY")


def test_multi_and_blocking(env):
    p, r = both(env)
    k = "{tx3}"
    for cmd in (("MULTI",), ("SET", k, "1"), ("INCRBYFLOAT", k, "0.5"), ("HSET", k + "h", "a", "1"),
                ("HGETALL", k + "h"), ("GET", k + "none"), ("ZADD", k + "z", "1", "m"),
                ("ZSCORE", k + "z", "m"), ("EXEC",)):
        same(p, r, *cmd)
    same(p, r, "WATCH", k)
    same(p, r, "MULTI")
    same(p, r, "GET", k)
    same(p, r, "EXEC")
    # blocking pops: a timeout is a RESP3 null, a pop has RESP3 types
    same(p, r, "BLPOP", k + "list", "0.1")
    same(p, r, "BZPOPMIN", k + "z2", "0.1")
    same(p, r, "RPUSH", k + "list", "a")
    same(p, r, "BLPOP", k + "list", "1")
    same(p, r, "ZADD", k + "z2", "2.5", "x")
    same(p, r, "BZPOPMIN", k + "z2", "1")
    # a pop woken by a write from another client
    other = Raw(env.proxy.port, 3)
    p.send("BRPOP", k + "wake", "5")
    time.sleep(0.2)
    assert other.call("LPUSH", k + "wake", "hello") == b":1\r\n"
    key = k.encode() + b"wake"
    assert p.read() == b"*2\r\n$%d\r\n%s\r\n$5\r\nhello\r\n" % (len(key), key)


def test_pubsub_pushes_and_commands_while_subscribed(env):
    p, r = both(env)
    k = keys_for_group(env.ranges, 1, 1, prefix="ps3")[0]
    same(p, r, "SUBSCRIBE", "news", "sport")
    for c in (p, r):
        c.subscribed2 = c.read()
    assert p.subscribed2 == r.subscribed2 == b">3\r\n$9\r\nsubscribe\r\n$5\r\nsport\r\n:2\r\n"
    # RESP3: any command runs while subscribed
    same(p, r, "SET", k, "x")
    same(p, r, "GET", k)
    same(p, r, "PING")
    same(p, r, "MGET", k, "nokey")
    pub_p, pub_r = Raw(env.proxy.port, 3), Raw(env.ref_port, 3)
    assert pub_p.call("PUBLISH", "news", "hello") == pub_r.call("PUBLISH", "news", "hello") == b":1\r\n"
    assert p.read() == r.read() == b">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
    same(p, r, "PSUBSCRIBE", "n*")
    pub_p.call("PUBLISH", "news", "again")
    pub_r.call("PUBLISH", "news", "again")
    for _ in range(2):
        assert p.read() == r.read()
    # UNSUBSCRIBE without channels goes in the server's hash order
    p.send("UNSUBSCRIBE")
    r.send("UNSUBSCRIBE")
    mine, theirs = [p.read(), p.read()], [r.read(), r.read()]
    assert [m[:2] for m in mine] == [b">3", b">3"]
    assert sorted(parse(m)[1] for m in mine) == sorted(parse(m)[1] for m in theirs)
    assert [parse(m)[2] for m in mine] == [parse(m)[2] for m in theirs] == [2, 1]
    same(p, r, "PUNSUBSCRIBE")
    same(p, r, "UNSUBSCRIBE")
    same(p, r, "GET", k)
    assert p.quiet() and r.quiet()


def test_pushes_never_reach_other_clients(env):
    """A subscriber and plain RESP3 clients share the worker's RESP3
    links: the plain clients see only their own replies."""
    sub = Raw(env.proxy.port, 3)
    sub.call("SUBSCRIBE", "flood")
    plain = [Raw(env.proxy.port, 3) for _ in range(3)]
    pub = Raw(env.proxy.port, 3)
    keys = keys_for_group(env.ranges, 0, 3, prefix="iso") + keys_for_group(env.ranges, 1, 3, prefix="iso")
    for i, k in enumerate(keys):
        plain[0].call("SET", k, str(i))
    for rnd in range(30):
        pub.send("PUBLISH", "flood", str(rnd))
        for c in plain:
            c.send("MGET", *keys)
            c.send("GET", keys[rnd % len(keys)])
        for c in plain:
            raw = c.read()
            assert parse(raw) == [str(i).encode() for i in range(len(keys))], raw
            assert c.read() == b"$1\r\n%d\r\n" % (rnd % len(keys))
        assert pub.read() == b":1\r\n"
    got = [parse(sub.read()) for _ in range(30)]
    assert got == [[b"message", b"flood", str(i).encode()] for i in range(30)]
    for c in plain:
        assert c.quiet(0.2)


@pytest.mark.parametrize("proto", [2, 3])
def test_keyspace_notifications_from_every_group(env, proto):
    for g in range(2):
        env.direct(g).config_set("notify-keyspace-events", "KEA")
    s = Raw(env.proxy.port, proto if proto == 3 else None)
    s.send("PSUBSCRIBE", "__key*@0__:*")
    first = s.read()
    assert first == (b">3" if proto == 3 else b"*3") + b"\r\n$10\r\npsubscribe\r\n$12\r\n__key*@0__:*\r\n:1\r\n"
    ka = keys_for_group(env.ranges, 0, 1, prefix="ev")[0]
    kb = keys_for_group(env.ranges, 1, 1, prefix="ev")[0]
    w = env.client()
    w.set(ka, "1")
    w.set(kb, "1")
    events = set()
    for _ in range(4):  # keyspace and keyevent for each key
        msg = parse(s.read())
        assert msg[0] == b"pmessage"
        events.add((msg[2], msg[3]))
    assert (b"__keyspace@0__:" + ka.encode(), b"set") in events
    assert (b"__keyspace@0__:" + kb.encode(), b"set") in events
    assert (b"__keyevent@0__:set", ka.encode()) in events
    assert (b"__keyevent@0__:set", kb.encode()) in events
    # one confirmation, not one per group
    s.send("PUNSUBSCRIBE")
    assert parse(s.read())[:2] == [b"punsubscribe", b"__key*@0__:*"]
    assert s.quiet()


def test_resp2_and_resp3_clients_side_by_side(env):
    k = keys_for_group(env.ranges, 0, 1, prefix="mix")[0]
    c2, c3 = Raw(env.proxy.port), Raw(env.proxy.port, 3)
    c2.call("HSET", k, "f", "v")
    for _ in range(50):
        c2.send("HGETALL", k)
        c3.send("HGETALL", k)
        c2.send("GET", "nokey")
        c3.send("GET", "nokey")
        c3.send("ZSCORE", "nokey", "m")
    for _ in range(50):
        assert c2.read() == b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
        assert c3.read() == b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n"
        assert c2.read() == b"$-1\r\n"
        assert c3.read() == b"_\r\n"
        assert c3.read() == b"_\r\n"


def test_tracking_invalidations_from_every_group(env):
    p, r = both(env)
    # option errors as Redis words them
    for cmd in (("CLIENT", "TRACKING", "on", "PREFIX", "a"),
                ("CLIENT", "TRACKING", "on", "BCAST", "OPTIN"),
                ("CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"),
                ("CLIENT", "TRACKING", "maybe"),
                ("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "ab", "PREFIX", "a"),
                ("CLIENT", "CACHING", "yes")):
        same(p, r, *cmd)
    same(p, r, "CLIENT", "TRACKING", "on", "REDIRECT", "999999")
    assert p.call("CLIENT", "TRACKING", "on") == b"+OK\r\n"
    assert p.call("CLIENT", "GETREDIR") == b":0\r\n"
    ka = keys_for_group(env.ranges, 0, 1, prefix="trk")[0]
    kb = keys_for_group(env.ranges, 1, 1, prefix="trk")[0]
    w = Raw(env.proxy.port, 3)
    w.call("MSET", ka, "1", kb, "1")
    assert parse(p.call("MGET", ka, kb)) == [b"1", b"1"]
    assert p.call("GET", ka) == b"$1\r\n1\r\n"
    w.call("SET", ka, "2")
    w.call("SET", kb, "2")
    got = {tuple(parse(p.read())[1]) for _ in range(2)}
    assert got == {(ka.encode(),), (kb.encode(),)}
    # the first write invalidated; the key is not tracked again until read
    w.call("SET", ka, "3")
    assert p.quiet()
    assert p.call("CLIENT", "TRACKING", "off") == b"+OK\r\n"
    # BCAST with a prefix: every group reports writes under it
    assert p.call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "trk") == b"+OK\r\n"
    time.sleep(0.2)
    w.call("SET", kb, "4")
    w.call("SET", ka, "4")
    w.call("SET", "other", "x")
    got = {tuple(parse(p.read())[1]) for _ in range(2)}
    assert got == {(ka.encode(),), (kb.encode(),)}
    assert p.quiet()
    assert p.call("CLIENT", "TRACKING", "off") == b"+OK\r\n"
    # OPTIN: only reads after CLIENT CACHING yes are tracked
    assert p.call("CLIENT", "TRACKING", "on", "OPTIN") == b"+OK\r\n"
    p.call("GET", ka)
    assert p.call("CLIENT", "CACHING", "yes") == b"+OK\r\n"
    p.call("GET", kb)
    w.call("SET", ka, "5")
    w.call("SET", kb, "5")
    assert parse(p.read()) == [b"invalidate", [kb.encode()]]
    assert p.quiet()


def test_server_surface_in_resp3(env):
    p, r = both(env)
    k = keys_for_group(env.ranges, 1, 1, prefix="mem")[0]
    same(p, r, "SET", k, "v" * 100)
    # MEMORY USAGE goes to the group of its key
    assert parse(p.call("MEMORY", "USAGE", k)) == env.direct(1).execute_command("MEMORY", "USAGE", k)
    assert env.direct(0).execute_command("MEMORY", "USAGE", k) is None
    assert p.call("MEMORY", "USAGE", k + "none") == b"_\r\n"
    # the proxy's own texts are verbatim strings in RESP3, bulks in RESP2
    for cmd in (("CLIENT", "INFO"), ("CLIENT", "LIST"), ("INFO", "server")):
        raw = p.call(*cmd)
        assert raw.startswith(b"=") and raw.split(b"\r\n", 1)[1].startswith(b"txt:"), (cmd, raw)
        assert r.call(*cmd).startswith(b"="), cmd
    same(p, r, "CLIENT", "GETNAME")
    same(p, r, "PING")
    same(p, r, "PING", "x")
    same(p, r, "ECHO", "y")
    # server administration is refused with an error naming the command:
    # it would reach one node of one group, which is not what the caller
    # of CONFIG SET or SLOWLOG GET through one endpoint means
    for cmd in (("CONFIG", "GET", "maxmemory"), ("SLOWLOG", "GET"), ("LATENCY", "LATEST"),
                ("MONITOR",)):
        raw = p.call(*cmd)
        assert raw == b"-ERR command '%s' is not supported by strata-proxy\r\n" % cmd[0].lower().encode()
    assert b" resp=3" in p.call("CLIENT", "INFO")
    c2 = Raw(env.proxy.port)
    assert c2.call("CLIENT", "INFO").startswith(b"$")
    assert b" resp=2" in c2.call("CLIENT", "INFO")
    assert c2.call("INFO", "server").startswith(b"$")


@pytest.mark.parametrize("proto", [2, 3])
def test_plain_subscriber_needs_only_the_pubsub_group(env, proto):
    """Only subscriptions that may receive keyspace events are made on
    every group: with the other group down, a plain channel still works."""
    env.backends[1].kill()
    s = Raw(env.proxy.port, proto if proto == 3 else None)
    s.send("SUBSCRIBE", "plain")
    assert parse(s.read()) == [b"subscribe", b"plain", 1]
    pub = Raw(env.proxy.port)
    assert pub.call("PUBLISH", "plain", "m") == b":1\r\n"
    assert parse(s.read()) == [b"message", b"plain", b"m"]
    s.send("PSUBSCRIBE", "news.*")
    assert parse(s.read()) == [b"psubscribe", b"news.*", 2]
    s.send("PING")
    assert s.read() in (b"+PONG\r\n", b"*2\r\n$4\r\npong\r\n$0\r\n\r\n")


def test_connection_state_commands_are_refused_inside_multi(env):
    """MULTI ... EXEC may run on a shared link: a HELLO queued in it
    would switch that link's protocol under every other client."""
    c = Raw(env.proxy.port)
    other = Raw(env.proxy.port)
    k = keys_for_group(env.ranges, 0, 1, prefix="mh")[0]
    assert c.call("MULTI") == b"+OK\r\n"
    for cmd in (("HELLO", "3"), ("CLIENT", "SETNAME", "x"), ("AUTH", "pw")):
        assert c.call(*cmd) == b"-ERR '%s' inside MULTI is not supported by strata-proxy\r\n" % cmd[0].lower().encode()
    assert c.call("GET", k) == b"+QUEUED\r\n"
    assert c.call("EXEC").startswith(b"-EXECABORT")
    assert other.call("GET", "nokey") == b"$-1\r\n"
    assert other.call("HGETALL", "nokey") == b"*0\r\n"


@pytest.mark.parametrize("target_proto", [2, 3])
def test_tracking_redirect(env, target_proto):
    """RESP2 tracking with REDIRECT to another client of the proxy: a
    RESP2 subscriber of __redis__:invalidate gets messages, a RESP3 client
    pushes, byte for byte as from redis-server, for keys of both groups."""
    ka = keys_for_group(env.ranges, 0, 1, prefix="rd")[0]
    kb = keys_for_group(env.ranges, 1, 1, prefix="rd")[0]
    got = {}
    for name, port in (("proxy", env.proxy.port), ("redis", env.ref_port)):
        target = Raw(port, target_proto if target_proto == 3 else None)
        tid = parse(target.call("CLIENT", "ID"))
        if target_proto == 2:
            target.send("SUBSCRIBE", "__redis__:invalidate")
            assert parse(target.read())[0] == b"subscribe"
        a = Raw(port)
        assert a.call("CLIENT", "TRACKING", "on", "REDIRECT", "999999") == \
            b"-ERR The client ID you want redirect to does not exist\r\n"
        assert a.call("CLIENT", "TRACKING", "on", "REDIRECT", str(tid)) == b"+OK\r\n"
        assert parse(a.call("CLIENT", "GETREDIR")) == tid
        w = Raw(port)
        w.call("MSET", ka, "1", kb, "1")
        assert a.call("GET", ka) == b"$1\r\n1\r\n"
        assert a.call("GET", kb) == b"$1\r\n1\r\n"
        w.call("SET", ka, "2")
        w.call("SET", kb, "2")
        got[name] = sorted(target.read() for _ in range(2))
        assert target.quiet()
        # the tracking client itself gets only its replies
        assert a.quiet(0.1)
        w.call("DEL", ka, kb)
    assert got["proxy"] == got["redis"]


def test_tracking_on_twice_keeps_what_was_tracked(env):
    p = Raw(env.proxy.port, 3)
    w = Raw(env.proxy.port, 3)
    k = keys_for_group(env.ranges, 1, 1, prefix="twice")[0]
    w.call("SET", k, "1")
    assert p.call("CLIENT", "TRACKING", "on") == b"+OK\r\n"
    assert p.call("GET", k) == b"$1\r\n1\r\n"
    assert p.call("CLIENT", "TRACKING", "on", "NOLOOP") == b"+OK\r\n"
    assert p.call("PING") == b"+PONG\r\n"
    w.call("SET", k, "2")
    assert parse(p.read()) == [b"invalidate", [k.encode()]]


@pytest.mark.parametrize("proto", [2, 3])
def test_tracking_info_and_getredir(env, proto):
    p, r = both(env, proto)
    for cmd in (("CLIENT", "TRACKINGINFO"), ("CLIENT", "GETREDIR"),
                ("CLIENT", "TRACKING", "on"), ("CLIENT", "TRACKINGINFO"),
                ("CLIENT", "TRACKING", "off"),
                ("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "zz", "PREFIX", "ab", "NOLOOP"),
                ("CLIENT", "TRACKINGINFO"), ("CLIENT", "GETREDIR"), ("CLIENT", "TRACKING", "off"),
                ("CLIENT", "TRACKING", "on", "OPTIN"), ("CLIENT", "CACHING", "yes"),
                ("CLIENT", "TRACKINGINFO"), ("CLIENT", "CACHING", "no"),
                ("CLIENT", "TRACKING", "off"), ("CLIENT", "TRACKINGINFO")):
        same(p, r, *cmd)


def test_resp3_reads_from_replicas(cluster):
    """read_from_replicas: RESP3 reads go to the replica over its own RESP3
    link (opened on first use), RESP2 reads over the RESP2 one."""
    from proxy_util import topology_text, write_file
    master = cluster.redis(name="g1-master")
    replica = cluster.redis(name="g1-replica", args=["--replicaof", "127.0.0.1", str(master.port)])
    lone = cluster.redis(name="g2")
    wait_until(lambda: replica.client().info("replication")["master_link_status"] == "up", 20,
               what="replica in sync")
    text = topology_text(
        [("g1", "0-8191", [f"127.0.0.1:{master.port}", f"127.0.0.1:{replica.port}"]),
         ("g2", "8192-16383", [f"127.0.0.1:{lone.port}"])],
        proxy={"timeout_ms": 1000, "read_from_replicas": True})
    proxy = cluster.proxy(write_file(cluster, "topology.yaml", text))
    k = keys_for_group([(0, 8191), (8192, 16383)], 0, 1, prefix="rr3")[0]
    c3, c2 = Raw(proxy.port, 3), Raw(proxy.port)
    assert c3.call("HSET", k, "f", "v") == b":1\r\n"
    wait_until(lambda: replica.client().hget(k, "f") == b"v", 10, what="replica has the write")

    def hgetalls(p):
        return p.client().info("commandstats").get("cmdstat_hgetall", {}).get("calls", 0)
    # the replica's RESP3 link may still be opening: the master serves meanwhile
    wait_until(lambda: c3.call("HGETALL", k) == b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n" and
               hgetalls(replica) > 0, 10, what="a RESP3 read served by the replica")
    before = hgetalls(replica), hgetalls(master)
    for _ in range(10):
        assert c3.call("HGETALL", k) == b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n"
        assert c2.call("HGETALL", k) == b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
    assert hgetalls(replica) - before[0] == 20 and hgetalls(master) == before[1]


def test_hello_between_watch_and_exec(env):
    """The WATCH's private link speaks the old protocol: EXEC then answers
    as a WATCH that fired (a RESP3 null), and nothing runs unguarded."""
    c = Raw(env.proxy.port)
    k = "{hw}k"
    assert c.call("WATCH", k) == b"+OK\r\n"
    c.call("HELLO", "3")
    assert c.call("MULTI") == b"+OK\r\n"
    assert c.call("SET", k, "x") == b"+QUEUED\r\n"
    assert c.call("EXEC") == b"_\r\n"
    assert c.call("GET", k) == b"_\r\n"
    # and a transaction after it runs in RESP3
    assert c.call("WATCH", k) == b"+OK\r\n"
    assert c.call("MULTI") == b"+OK\r\n"
    assert c.call("HSET", k + "h", "f", "v") == b"+QUEUED\r\n"
    assert c.call("HGETALL", k + "h") == b"+QUEUED\r\n"
    assert c.call("EXEC") == b"*2\r\n:1\r\n%1\r\n$1\r\nf\r\n$1\r\nv\r\n"


def test_resp3_differential(cluster):
    """The seeded random sequences of test_proxy_diff, in RESP3, through
    the proxy (three groups) and to one redis-server: replies equal byte
    for byte, except the order inside replies whose order is a hash
    table's.  Rerun one with STRATA_SEED=N."""
    import os
    import random
    from test_proxy_diff import KEYS, UNORDERED, gen
    seed = int(os.environ.get("STRATA_SEED", random.randrange(1 << 30)))
    print(f"RESP3 differential seed={seed}")
    rng = random.Random(seed)
    setup = ProxySetup(cluster, 3)
    ref = cluster.redis(name="reference")
    p, r = Raw(setup.proxy.port, 3), Raw(ref.port, 3)
    for i in range(1500):
        cmd = gen(rng)
        a, b = p.call(*cmd), r.call(*cmd)
        if a != b and cmd[0] in UNORDERED and a[:1] == b[:1] and a[:1] in b"*~%":
            pa, pb = parse(a), parse(b)
            if isinstance(pa, list):
                pa, pb = sorted(pa), sorted(pb)
            assert pa == pb, f"seed={seed} step={i} {cmd!r}: proxy {a!r} != redis {b!r}"
            continue
        assert a == b, f"seed={seed} step={i} {cmd!r}: proxy {a!r} != redis {b!r}"
    assert p.call("DBSIZE") == r.call("DBSIZE")
    for k in KEYS:
        assert p.call("TYPE", k) == r.call("TYPE", k), f"seed={seed} key {k}"


def test_resp3_with_a_password(cluster):
    """The proxy's RESP3 links authenticate in their HELLO 3; a client
    authenticates with HELLO 3 AUTH as with Redis."""
    setup = ProxySetup(cluster, 2, password="s3cret")
    c = Raw(setup.proxy.port)
    assert c.call("HELLO", "3").startswith(b"-NOAUTH HELLO must be called")
    assert c.call("GET", "k").startswith(b"-NOAUTH")
    assert c.call("HELLO", "3", "AUTH", "default", "wrong").startswith(b"-WRONGPASS")
    assert c.call("HELLO", "3", "AUTH", "default", "s3cret").startswith(b"%7\r\n")
    ka = keys_for_group(setup.ranges, 0, 1, prefix="pw")[0]
    kb = keys_for_group(setup.ranges, 1, 1, prefix="pw")[0]
    assert c.call("MSET", ka, "1", kb, "2") == b"+OK\r\n"
    assert c.call("MGET", ka, kb, "nokey") == b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n_\r\n"
    c.send("SUBSCRIBE", "ch")
    assert parse(c.read()) == [b"subscribe", b"ch", 1]


@pytest.mark.parametrize("proto", [2, 3])
def test_reset(env, proto):
    p, r = both(env, proto)
    for cmd in (("CLIENT", "SETNAME", "me"), ("CLIENT", "TRACKING", "on"), ("WATCH", "{rs}a"),
                ("MULTI",), ("SET", "{rs}a", "1"), ("RESET",), ("EXEC",), ("GET", "{rs}a"),
                ("CLIENT", "GETNAME"), ("CLIENT", "TRACKINGINFO"), ("HGETALL", "nokey"),
                ("RESET", "x")):
        same(p, r, *cmd)
    # out of pub/sub mode, in both protocols
    for c in (p, r):
        c.call("HELLO", str(proto))
    same(p, r, "SUBSCRIBE", "rs")
    if proto == 3:
        same(p, r, "PSUBSCRIBE", "__key*")
    assert p.call("RESET") == r.call("RESET") == b"+RESET\r\n"
    pub = Raw(env.proxy.port)
    assert pub.call("PUBLISH", "rs", "x") == b":0\r\n"
    same(p, r, "GET", "nokey")
    assert p.quiet() and r.quiet()


def test_resp3_differential_over_strata_nodes(cluster):
    """The same random sequences through the proxy over two strata-node
    groups and to one strata-node: whatever RESP3 the node writes, the
    proxy passes it on, and merges it, unchanged."""
    import os
    import random
    from test_proxy_diff import KEYS, UNORDERED, gen
    from test_proxy_node import node_binary
    from proxy_util import even_ranges, topology_text, write_file
    if not node_binary():
        pytest.skip("strata-node not built")
    seed = int(os.environ.get("STRATA_SEED", random.randrange(1 << 30)))
    print(f"RESP3 node differential seed={seed}")
    rng = random.Random(seed)
    nodes = [cluster.node(f"node{i}") for i in range(3)]
    ranges = even_ranges(2)
    text = topology_text([(f"g{i + 1}", f"{lo}-{hi}", [f"127.0.0.1:{n.port}"])
                          for i, ((lo, hi), n) in enumerate(zip(ranges, nodes[:2]))],
                         proxy={"timeout_ms": 2000})
    proxy = cluster.proxy(write_file(cluster, "topology.yaml", text))
    p, r = Raw(proxy.port, 3), Raw(nodes[2].port, 3)
    for i in range(800):
        cmd = gen(rng)
        a, b = p.call(*cmd), r.call(*cmd)
        if a != b and cmd[0] in UNORDERED and a[:1] == b[:1] and a[:1] in b"*~%":
            pa, pb = parse(a), parse(b)
            if isinstance(pa, list):
                pa, pb = sorted(pa), sorted(pb)
            assert pa == pb, f"seed={seed} step={i} {cmd!r}: proxy {a!r} != node {b!r}"
            continue
        assert a == b, f"seed={seed} step={i} {cmd!r}: proxy {a!r} != node {b!r}"
