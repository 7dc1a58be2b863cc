"""Client-side caching (CLIENT TRACKING) on strata-node, side by side with
redis-server 7.0.

Each scenario drives a tracking client and a writer (and, for RESP2, a
redirect target subscribed to __redis__:invalidate) on one server and
returns a transcript of raw bytes: every reply, and every push or message
that arrived before a PING's reply (a PING fences what the server sent
before it).  Client ids differ between the servers, so they are replaced
by a placeholder.

Covered: default mode (reads of several command kinds, one invalidation
per change, re-tracking), the client's own changes (held until after the
reply, and after a whole EXEC), NOLOOP, BCAST with prefixes (sorted,
deduplicated keys per prefix, a key under two prefixes, NOLOOP), OPTIN /
OPTOUT with CLIENT CACHING (also across MULTI), RESP2 REDIRECT to a
subscriber, FLUSHALL's null, a broken redirect (flag, and RESP3's
tracking-redir-broken), expiry (active and lazy), CLIENT GETREDIR and
TRACKINGINFO in both protocols, every error text, tracking-table-max-keys.
"""
import re
import time

from resp3 import Resp3Conn

PONG3 = b"+PONG\r\n"
PONG2_SUB = b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"


class Session:
    """Connections to one server and the transcript they build."""

    def __init__(self, srv):
        self.srv = srv
        self.t = []
        self.conns = []
        self.ids = {}

    def conn(self, proto=3):
        c = Resp3Conn(self.srv.port)
        if proto == 3:
            c.call("HELLO", "3")
        self.conns.append(c)
        cid = int(c.call("CLIENT", "ID")[1:-2])
        self.ids[cid] = f"<id{len(self.ids)}>"
        c.id = cid
        return c

    def norm(self, raw):
        """Client ids (integer replies that are one) as placeholders."""
        def sub(m):
            name = self.ids.get(int(m.group(1)))
            return (b":" + name.encode() if name else m.group(0)[:-2]) + b"\r\n"
        return re.sub(rb"(?:(?<=\r\n)|^):(\d+)\r\n", sub, raw)

    def call(self, c, *args):
        r = self.norm(c.call(*args))
        self.t.append(r)
        return r

    def fence(self, c, pong=PONG3):
        """Record what c received before the reply of a PING."""
        c.send("PING")
        while True:
            r = c.read()
            if r == pong:
                break
            self.t.append(self.norm(r))
        self.t.append(b"--")

    def close(self):
        for c in self.conns:
            c.close()


def run_both(pair, scenario):
    node, redis_ = pair
    out = []
    for srv in (node, redis_):
        s = Session(srv)
        s.conns.append(Resp3Conn(srv.port))
        s.conns[0].call("FLUSHALL")
        scenario(s)
        s.close()
        out.append(s.t)
    got, want = out
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"entry {i}: strata {g!r} != redis {w!r}\nstrata {got[max(0, i - 5):i + 3]}\nredis  {want[max(0, i - 5):i + 3]}"
    assert len(got) == len(want), (got, want)
    return got


def test_default_mode(pair):
    def sc(s):
        t, w = s.conn(), s.conn()
        s.call(t, "CLIENT", "TRACKING", "ON")
        s.call(w, "MSET", "a", "1", "b", "2", "c", "3")
        s.call(t, "GET", "a")
        s.call(t, "MGET", "b", "c", "missing")
        s.call(t, "EXISTS", "a")
        s.call(w, "HSET", "h", "f", "v")
        s.call(t, "HGET", "h", "f")
        s.call(t, "STRLEN", "nokey")
        s.fence(t)
        s.call(w, "SET", "a", "9")             # one invalidation
        s.call(w, "SET", "a", "10")            # not tracked any more: none
        s.fence(t)
        s.call(w, "MSET", "b", "1", "c", "1", "missing", "1")
        s.call(w, "HSET", "h", "f", "v")       # same value: still a change
        s.call(w, "SET", "nokey", "x")
        s.fence(t)
        s.call(t, "GET", "a")                  # tracked again
        s.call(w, "DEL", "a")
        s.call(w, "INCR", "other")
        s.fence(t)
        s.call(w, "HSET", "hw", "f", "v")
        s.call(t, "GET", "hw")                 # an error reply still tracks the key
        s.call(t, "LRANGE", "gone", "0", "-1")
        s.call(w, "HDEL", "hw", "f")
        s.call(w, "RPUSH", "gone", "x")
        s.fence(t)
        s.call(t, "SET", "x", "1")             # writes do not track
        s.call(w, "SET", "x", "2")
        s.fence(t)
        s.call(t, "CLIENT", "TRACKING", "OFF")
        s.call(t, "GET", "y")
        s.call(w, "SET", "y", "1")
        s.fence(t)
        s.call(t, "CLIENT", "TRACKING", "ON")
        s.call(t, "GET", "y")
        t.send("RESET")                        # tracking goes with the connection state
        s.t.append(t.read())
        s.call(t, "CLIENT", "TRACKINGINFO")
        s.call(w, "SET", "y", "2")
        s.fence(t)
    run_both(pair, sc)


def test_own_changes_and_exec(pair):
    def sc(s):
        t, w = s.conn(), s.conn()
        s.call(t, "CLIENT", "TRACKING", "ON")
        s.call(t, "GET", "x")
        s.call(t, "SET", "x", "1")             # the push comes after +OK
        s.call(t, "GET", "x")
        s.call(t, "MULTI")
        s.call(t, "SET", "x", "2")
        s.call(t, "GET", "x")
        s.call(t, "SET", "x", "3")
        s.call(t, "EXEC")                      # both pushes after the EXEC reply
        s.fence(t)
        s.call(t, "CLIENT", "TRACKING", "ON", "NOLOOP")
        s.call(t, "GET", "y")
        s.call(t, "SET", "y", "1")             # NOLOOP: none, and y is forgotten
        s.call(w, "SET", "y", "2")
        s.fence(t)
        s.call(t, "GET", "y")
        s.call(w, "SET", "y", "3")
        s.fence(t)
        s.call(t, "GET", "z")
        s.call(t, "FLUSHALL")                  # own flush: null after +OK
        s.fence(t)
        s.call(t, "CLIENT", "TRACKING", "ON")
        s.call(t, "GET", "r")
        t.send("CLIENT", "REPLY", "OFF")
        t.send("SET", "r", "1")                # no reply, but the push comes
        t.send("CLIENT", "REPLY", "ON")
        s.t.append(t.read())
        s.t.append(t.read())
        s.call(t, "GET", "z")
        s.call(w, "FLUSHDB")                   # someone else's flush
        s.fence(t)
        s.call(w, "SET", "z", "1")             # the flush forgot z
        s.fence(t)
    run_both(pair, sc)


def test_bcast(pair):
    def sc(s):
        t, u, w = s.conn(), s.conn(), s.conn()
        s.call(t, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "cart:")
        s.call(u, "CLIENT", "TRACKING", "ON", "BCAST")
        s.call(w, "MSET", "user:9", "a", "user:1", "b", "cart:3", "c", "other", "d", "user:1", "e")
        s.fence(t)
        s.fence(u)
        s.call(w, "SET", "nothing", "1")
        s.fence(t)
        s.fence(u)
        s.call(t, "SET", "user:5", "x")        # own change: still sent
        s.fence(t)
        s.call(t, "CLIENT", "TRACKING", "ON", "BCAST", "NOLOOP", "PREFIX", "x")
        s.call(t, "CLIENT", "TRACKINGINFO")
        s.call(t, "SET", "user:5", "y")        # NOLOOP: none for t
        s.call(w, "SET", "user:6", "y")
        s.fence(t)
        s.fence(u)
        s.call(w, "MULTI")
        s.call(w, "SET", "xa", "1")
        s.call(w, "DEL", "user:9", "user:1")
        s.call(w, "EXEC")
        s.fence(t)
        s.fence(u)
        s.call(w, "HSET", "cart:3x", "f", "v")
        s.call(w, "RPUSH", "user:list", "1")
        s.call(w, "LPOP", "user:list")
        s.fence(t)
        s.call(t, "GET", "user:9")             # reads do not matter in BCAST
        s.call(w, "FLUSHALL")                  # a null for every tracking client
        s.fence(t)
        s.fence(u)
        s.call(t, "CLIENT", "TRACKING", "OFF")
        s.call(w, "SET", "user:1", "z")
        s.fence(t)
        s.fence(u)
    run_both(pair, sc)


def test_optin_optout(pair):
    def sc(s):
        t, o, w = s.conn(), s.conn(), s.conn()
        s.call(t, "CLIENT", "TRACKING", "ON", "OPTIN")
        s.call(t, "GET", "a")                  # not cached: not tracked
        s.call(t, "CLIENT", "CACHING", "YES")
        s.call(t, "CLIENT", "TRACKINGINFO")
        s.call(t, "GET", "b")                  # tracked
        s.call(t, "GET", "c")                  # the choice covered one command
        s.call(t, "CLIENT", "CACHING", "YES")
        s.call(t, "MULTI")
        s.call(t, "GET", "d")
        s.call(t, "GET", "e")
        s.call(t, "EXEC")                      # the whole transaction is cached
        s.call(t, "GET", "f")
        s.call(w, "MSET", "a", "1", "b", "1", "c", "1", "d", "1", "e", "1", "f", "1")
        s.fence(t)
        s.call(o, "CLIENT", "TRACKING", "ON", "OPTOUT")
        s.call(o, "GET", "a")                  # tracked
        s.call(o, "CLIENT", "CACHING", "NO")
        s.call(o, "CLIENT", "TRACKINGINFO")
        s.call(o, "GET", "b")                  # not tracked
        s.call(o, "GET", "c")                  # tracked again
        s.call(w, "MSET", "a", "2", "b", "2", "c", "2")
        s.fence(o)
        s.call(t, "CLIENT", "TRACKING", "ON", "OPTOUT")
        s.call(o, "CLIENT", "TRACKING", "ON", "OPTIN")
        s.call(t, "CLIENT", "TRACKING", "OFF")
        s.call(t, "CLIENT", "TRACKING", "ON", "OPTOUT")
        s.call(t, "CLIENT", "TRACKINGINFO")
    run_both(pair, sc)


def test_resp2_redirect(pair):
    def sc(s):
        r = s.conn(proto=2)
        t, w = s.conn(proto=2), s.conn()
        s.call(r, "SUBSCRIBE", "__redis__:invalidate")
        s.call(t, "CLIENT", "TRACKING", "ON", "REDIRECT", str(r.id))
        s.call(t, "CLIENT", "GETREDIR")
        s.call(t, "CLIENT", "TRACKINGINFO")
        s.call(t, "GET", "a")
        s.call(t, "MGET", "b", "c")
        s.call(w, "SET", "a", "1")
        s.call(w, "MSET", "b", "1", "c", "1")
        s.fence(r, PONG2_SUB)
        s.call(t, "GET", "a")
        s.call(t, "SET", "a", "2")             # own change: to the target, no hold needed
        s.fence(r, PONG2_SUB)
        s.call(t, "GET", "a")
        s.call(w, "FLUSHALL")                  # null in the tracking client's protocol
        s.fence(r, PONG2_SUB)
        s.call(t, "GET", "a")
        s.call(t, "CLIENT", "TRACKING", "ON", "BCAST")   # mode switch refused
        s.call(r, "UNSUBSCRIBE")
        s.call(w, "SET", "a", "3")             # target not subscribed: dropped
        s.fence(r)
        r.close()
        s.conns.remove(r)
        time.sleep(0.1)
        s.call(t, "GET", "b")
        s.call(w, "SET", "b", "2")             # target gone: flagged broken
        s.call(t, "CLIENT", "TRACKINGINFO")
        s.call(t, "CLIENT", "GETREDIR")
        s.call(t, "CLIENT", "TRACKING", "OFF")
        s.call(t, "CLIENT", "TRACKINGINFO")
        s.call(t, "CLIENT", "GETREDIR")
    run_both(pair, sc)


def test_resp3_broken_redirect(pair):
    def sc(s):
        r, t, w = s.conn(), s.conn(), s.conn()
        s.call(t, "CLIENT", "TRACKING", "ON", "REDIRECT", str(r.id))
        s.call(t, "GET", "a")
        s.call(w, "SET", "a", "1")
        s.fence(r)                             # a RESP3 target gets a push
        s.call(t, "GET", "a")
        r.close()
        s.conns.remove(r)
        time.sleep(0.1)
        s.call(w, "SET", "a", "2")
        s.fence(t)                             # tracking-redir-broken <id>
        s.call(t, "CLIENT", "TRACKINGINFO")
    run_both(pair, sc)


def test_expiry_invalidates(pair):
    def sc(s):
        t, w = s.conn(), s.conn()
        s.call(t, "CLIENT", "TRACKING", "ON")
        s.call(w, "SET", "e1", "v", "PX", "100")
        s.call(t, "GET", "e1")
        deadline = time.time() + 5
        while time.time() < deadline and not t.pending(0.1):
            pass
        s.fence(t)                             # the active sweep's invalidation
        s.call(w, "SET", "e2", "v", "PX", "50")
        s.call(t, "GET", "e2")
        s.call(w, "SET", "e2", "v2")           # a change before the expiry: invalidated
        s.call(t, "GET", "e2")
        s.fence(t)
    run_both(pair, sc)


def test_errors(pair):
    def sc(s):
        t, w = s.conn(), s.conn(proto=2)
        for args in (
            ["CLIENT", "TRACKING"],
            ["CLIENT", "TRACKING", "maybe"],
            ["CLIENT", "TRACKING", "ON", "bogus"],
            ["CLIENT", "TRACKING", "ON", "REDIRECT"],
            ["CLIENT", "TRACKING", "ON", "REDIRECT", "x"],
            ["CLIENT", "TRACKING", "ON", "REDIRECT", "999999"],
            ["CLIENT", "TRACKING", "ON", "REDIRECT", "-1"],
            ["CLIENT", "TRACKING", "ON", "REDIRECT", str(w.id), "REDIRECT", str(w.id)],
            ["CLIENT", "TRACKING", "ON", "PREFIX", "a"],
            ["CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"],
            ["CLIENT", "TRACKING", "ON", "BCAST", "OPTOUT"],
            ["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"],
            ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a", "PREFIX", "ab"],
            ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "", "PREFIX", "x"],
            ["CLIENT", "TRACKING", "OFF", "PREFIX"],
            ["CLIENT", "CACHING", "YES"],
            ["CLIENT", "CACHING"],
            ["CLIENT", "CACHING", "YES", "NO"],
            ["CLIENT", "GETREDIR", "x"],
            ["CLIENT", "TRACKINGINFO", "x"],
            ["CLIENT", "GETREDIR"],
            ["CLIENT", "TRACKINGINFO"],
            ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "p", "PREFIX", "q", "PREFIX", "qq"],
            ["CLIENT", "TRACKINGINFO"],
            ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "pp"],
            ["CLIENT", "TRACKING", "ON", "BCAST"],
            ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "r"],
            ["CLIENT", "TRACKINGINFO"],
            ["CLIENT", "TRACKING", "ON"],
            ["CLIENT", "CACHING", "YES"],
            ["CLIENT", "TRACKING", "OFF"],
            ["CLIENT", "TRACKING", "ON", "OPTIN"],
            ["CLIENT", "CACHING", "NO"],
            ["CLIENT", "CACHING", "maybe"],
            ["CLIENT", "TRACKING", "ON", "OPTOUT"],
            ["CLIENT", "TRACKING", "OFF"],
            ["CLIENT", "TRACKING", "ON", "OPTOUT"],
            ["CLIENT", "CACHING", "YES"],
            ["CLIENT", "TRACKING", "ON", "BCAST"],
        ):
            s.call(t, *args)
        for args in (["CLIENT", "TRACKINGINFO"], ["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a"],
                     ["CLIENT", "TRACKINGINFO"], ["CLIENT", "GETREDIR"]):
            s.call(w, *args)                    # RESP2 forms
    run_both(pair, sc)


def test_table_max_keys(pair):
    """Past tracking-table-max-keys, keys are invalidated (Redis picks them
    at random: only the count and the shape are compared)."""
    def sc(s):
        t, w = s.conn(), s.conn(proto=2)
        s.call(w, "CONFIG", "SET", "tracking-table-max-keys", "2")
        s.call(w, "CONFIG", "GET", "tracking-table-max-keys")
        s.call(t, "CLIENT", "TRACKING", "ON")
        s.call(t, "MGET", "a", "b", "c", "d")
        t.send("PING")
        got = []
        while True:
            r = t.read()
            if r == PONG3:
                break
            got.append(r)
        assert all(g.startswith(b">2\r\n$10\r\ninvalidate\r\n*1\r\n") for g in got), got
        keys = {g.rsplit(b"\r\n", 2)[-2] for g in got}
        assert keys <= {b"a", b"b", b"c", b"d"}
        s.t.append(b"%d invalidations of distinct keys: %d" % (len(got), len(keys)))
        s.call(w, "CONFIG", "SET", "tracking-table-max-keys", "1000000")
    run_both(pair, sc)


def test_replica_invalidates_on_master_writes(cluster):
    """A client tracking on a replica hears of the master's changes as the
    replica applies them (Redis's replica runs the write commands, which
    signal the keys).  strata-only: the bytes are Redis 7.0's push."""
    from test_repl_common import start_replica, wait_synced
    m = cluster.node("master")
    r = start_replica(cluster, m)
    mc = Resp3Conn(m.port)
    mc.call("SET", "k", "1")
    mc.call("HSET", "h", "f", "1")
    mc.call("RPUSH", "l", "a", "b")
    mc.call("ZADD", "z", "1", "m")
    wait_synced(m, r)
    t = Resp3Conn(r.port)
    t.call("HELLO", "3")
    assert t.call("CLIENT", "TRACKING", "ON") == b"+OK\r\n"
    assert t.call("GET", "k") == b"$1\r\n1\r\n"
    assert t.call("HGET", "h", "f") == b"$1\r\n1\r\n"
    assert t.call("LINDEX", "l", "0") == b"$1\r\na\r\n"
    assert t.call("ZSCORE", "z", "m") == b",1\r\n"  # a double in RESP3
    mc.call("SET", "k", "2")
    mc.call("DEL", "h")
    mc.call("LSET", "l", "0", "x")          # element only: the record names the list's version
    mc.call("ZADD", "z", "2", "m")           # a score only, the same
    wait_synced(m, r)
    t.send("PING")
    got = []
    while True:
        x = t.read()
        if x == PONG3:
            break
        got.append(x)
    assert got == [b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\n%s\r\n" % k for k in (b"k", b"h", b"l", b"z")]
    mc.close()
    t.close()
