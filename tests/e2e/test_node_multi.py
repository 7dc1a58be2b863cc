"""Transactions (MULTI EXEC DISCARD WATCH UNWATCH), COPY and OBJECT on
strata-node, side by side with a real redis-server.

Every differential step sends the same command on the same connection
index to both servers and requires byte-identical replies.  Two connections
per server play the transaction's client and "another client".  The random
runs print their seed; STRATA_SEED=N replays one.
"""
import os
import random
import time

import pytest

from difftest import RespConn

BASE_SEED = int(os.environ.get("STRATA_SEED") or random.SystemRandom().randrange(1 << 32))


class Side:
    """N connections to each of strata-node and redis-server."""

    def __init__(self, strata, redis_, n=2):
        self.a = [RespConn("127.0.0.1", strata.port) for _ in range(n)]
        self.b = [RespConn("127.0.0.1", redis_.port) for _ in range(n)]
        self.log = []

    def close(self):
        for c in self.a + self.b:
            c.close()

    def do(self, i, *args):
        """Run args on connection i of both servers; replies must match."""
        self.log.append((i, args))
        self.a[i].send(args)
        self.b[i].send(args)
        ra, va = self.a[i].read()
        rb, vb = self.b[i].read()
        if ra != rb:
            hist = "\n".join(f"  c{j}: {' '.join(map(str, a))}" for j, a in self.log[-25:])
            raise AssertionError(f"reply mismatch on c{i} {args}:\n  strata: {ra!r}\n  redis:  {rb!r}\n"
                                 f"last commands:\n{hist}")
        return va


@pytest.fixture
def side(cluster):
    s = Side(cluster.node(), cluster.redis())
    yield s
    s.close()


# --- scripted semantics ------------------------------------------------------

def test_queueing_errors_and_control_commands(side):
    d = side.do
    assert d(0, "EXEC").startswith(b"ERR EXEC without MULTI")
    assert d(0, "DISCARD").startswith(b"ERR DISCARD without MULTI")
    assert d(0, "MULTI") == "OK"
    assert d(0, "MULTI").startswith(b"ERR MULTI calls can not be nested")
    assert d(0, "WATCH", "x").startswith(b"ERR WATCH inside MULTI is not allowed")
    assert d(0, "SET", "a", "1") == "QUEUED"
    # neither a nested MULTI nor WATCH aborts the transaction (Redis 7.0)
    assert d(0, "EXEC") == ["OK"]
    # an arity error while queueing aborts it
    d(0, "MULTI")
    assert d(0, "SET", "a").startswith(b"ERR wrong number of arguments")
    assert d(0, "SET", "a", "2") == "QUEUED"
    assert d(0, "EXEC") == b"EXECABORT Transaction discarded because of previous errors."
    assert d(0, "GET", "a") == b"1"
    # so does an unknown command
    d(0, "MULTI")
    d(0, "NOSUCHCOMMAND", "x")
    d(0, "INCR", "a")
    assert d(0, "EXEC").startswith(b"EXECABORT")
    assert d(0, "GET", "a") == b"1"
    # and so do the no-multi commands, refused rather than queued (a queued
    # SHUTDOWN used to stop strata-node at EXEC)
    for cmd in (["SHUTDOWN", "NOSAVE", "ABORT"], ["SHUTDOWN"], ["PSYNC", "?", "-1"]):
        d(0, "MULTI")
        assert d(0, *cmd) == b"ERR Command not allowed inside a transaction"
        d(0, "INCR", "a")
        assert d(0, "EXEC").startswith(b"EXECABORT")
    assert d(0, "GET", "a") == b"1"
    # runtime errors are per-command replies; the other commands run
    d(0, "SET", "s", "text")
    d(0, "MULTI")
    d(0, "INCR", "a")
    d(0, "INCR", "s")
    d(0, "HSET", "s", "f", "v")
    d(0, "APPEND", "s", "!")
    r = d(0, "EXEC")
    assert r[0] == 2 and r[1].startswith(b"ERR value is not an integer") and r[2].startswith(b"WRONGTYPE")
    assert d(0, "GET", "s") == b"text!"
    # empty transaction, DISCARD, and state after EXEC
    d(0, "MULTI")
    assert d(0, "EXEC") == []
    d(0, "MULTI")
    d(0, "SET", "gone", "1")
    assert d(0, "DISCARD") == "OK"
    assert d(0, "GET", "gone") is None
    assert d(0, "EXEC").startswith(b"ERR EXEC without MULTI")
    # reads inside EXEC see the transaction's own earlier writes
    d(0, "MULTI")
    d(0, "SET", "r", "5")
    d(0, "INCRBY", "r", "10")
    d(0, "GET", "r")
    d(0, "DEL", "r")
    d(0, "EXISTS", "r")
    assert d(0, "EXEC") == ["OK", 15, b"15", 1, 0]
    # EXEC itself refused (its arity): Redis's execCommandAbort ends the
    # transaction, so what follows is not queued
    d(0, "MULTI")
    d(0, "SET", "a", "3")
    assert d(0, "EXEC", "x").startswith(b"EXECABORT Transaction discarded because of: wrong number")
    assert d(0, "GET", "a") == b"2"
    assert d(0, "EXEC").startswith(b"ERR EXEC without MULTI")
    # WATCH arity, UNWATCH anywhere
    assert d(0, "WATCH").startswith(b"ERR wrong number of arguments")
    assert d(0, "UNWATCH") == "OK"
    d(0, "MULTI")
    assert d(0, "UNWATCH") == "QUEUED"
    assert d(0, "EXEC") == ["OK"]


def test_watch_invalidation(side):
    d = side.do

    def watched_tx(setup, keys=("w",), expect_run=True):
        d(0, "WATCH", *keys)
        setup()
        d(0, "MULTI")
        d(0, "SET", "tx", "ran")
        r = d(0, "EXEC")
        assert (r is not None) == expect_run, (setup.__doc__, r)
        d(0, "DEL", "tx")

    d(0, "SET", "w", "1")

    def other_set():
        """another client overwrites the key"""
        d(1, "SET", "w", "2")
    watched_tx(other_set, expect_run=False)

    def own_write():
        """the watching client writes the key itself"""
        d(0, "INCR", "w")
    watched_tx(own_write, expect_run=False)

    def unrelated():
        """another key changes"""
        d(1, "SET", "other", "x")
    watched_tx(unrelated)

    def noop_del():
        """DEL of a missing key changes nothing"""
        d(1, "DEL", "missing")
    watched_tx(noop_del, keys=("missing",))

    def create():
        """a missing watched key is created"""
        d(1, "SET", "missing", "now")
    watched_tx(create, keys=("missing",), expect_run=False)

    def expire_set():
        """EXPIRE changes the key"""
        d(1, "EXPIRE", "w", "1000")
    watched_tx(expire_set, expect_run=False)

    def persist_noop():
        """PERSIST on a key without TTL changes nothing"""
        d(1, "PERSIST", "other")
    watched_tx(persist_noop, keys=("other",))

    d(1, "HSET", "h", "f", "1", "g", "2")

    def field_in_place():
        """a hash field is overwritten (the hash's size does not change)"""
        d(1, "HSET", "h", "f", "9")
    watched_tx(field_in_place, keys=("h",), expect_run=False)

    d(1, "SADD", "s1", "a", "b", "c")
    d(1, "SADD", "s2", "b", "c", "d")

    def store_reads_sources():
        """SINTERSTORE writes its destination only"""
        d(1, "SINTERSTORE", "dst", "s1", "s2")
    watched_tx(store_reads_sources, keys=("s1", "s2"))
    watched_tx(store_reads_sources, keys=("dst",), expect_run=False)

    def sadd_present():
        """SADD of members already in the set changes nothing"""
        d(1, "SADD", "s1", "a", "b", "a")
    watched_tx(sadd_present, keys=("s1",))

    def sadd_one_new():
        """SADD that adds one member among present ones changes the set"""
        d(1, "SADD", "s1", "a", "new")
    watched_tx(sadd_one_new, keys=("s1",), expect_run=False)

    d(1, "RPUSH", "l", "a", "b", "c")

    def ltrim_keeps_all():
        """LTRIM that keeps the whole list still signals the key (Redis)"""
        d(1, "LTRIM", "l", "-100", "100")
    watched_tx(ltrim_keeps_all, keys=("l",), expect_run=False)

    def ltrim_missing():
        """LTRIM of a missing key changes nothing"""
        d(1, "LTRIM", "nolist", "0", "1")
    watched_tx(ltrim_missing, keys=("nolist",))

    def copy_reads_source():
        """COPY writes its destination only"""
        d(1, "COPY", "s1", "s1copy", "REPLACE")
    watched_tx(copy_reads_source, keys=("s1",))
    watched_tx(copy_reads_source, keys=("s1copy",), expect_run=False)

    def rename_away():
        """RENAME removes the source and replaces the destination"""
        d(1, "SET", "ra", "1")
        d(1, "RENAME", "ra", "rb")
    watched_tx(rename_away, keys=("rb",), expect_run=False)

    def flush():
        """FLUSHALL removes an existing watched key"""
        d(1, "SET", "w", "1")
        d(1, "FLUSHALL")
    watched_tx(flush, expect_run=False)

    def flush_missing():
        """FLUSHALL does not touch a watched key that did not exist"""
        d(1, "FLUSHALL")
    watched_tx(flush_missing, keys=("nothing-here",))

    # UNWATCH and DISCARD forget the watches; WATCH after a dirty CAS is a no-op
    d(0, "SET", "w", "1")
    d(0, "WATCH", "w")
    d(1, "SET", "w", "2")
    d(0, "UNWATCH")
    d(0, "MULTI")
    d(0, "GET", "w")
    assert d(0, "EXEC") == [b"2"]
    d(0, "WATCH", "w")
    d(0, "MULTI")
    d(0, "DISCARD")
    d(1, "SET", "w", "3")
    d(0, "MULTI")
    assert d(0, "EXEC") == []
    d(0, "WATCH", "w")
    d(1, "SET", "w", "4")
    d(0, "WATCH", "w2")
    d(0, "MULTI")
    assert d(0, "EXEC") is None
    # EXEC on a dirty CAS also ends the MULTI and the watches
    d(1, "SET", "w", "5")
    d(0, "MULTI")
    assert d(0, "EXEC") == []


def test_watch_and_expiry(side):
    d = side.do
    # live at WATCH, expired by EXEC: the transaction fails (nothing needs
    # to have removed the key yet)
    d(0, "SET", "e", "1", "PX", "150")
    d(0, "WATCH", "e")
    time.sleep(0.3)
    d(0, "MULTI")
    d(0, "SET", "tx", "1")
    assert d(0, "EXEC") is None
    # the same when another client's read removed it on access
    d(0, "SET", "e", "1", "PX", "150")
    d(0, "WATCH", "e")
    time.sleep(0.3)
    d(1, "GET", "e")
    d(0, "MULTI")
    d(0, "SET", "tx", "2")
    assert d(0, "EXEC") is None
    # a key that expires later than EXEC does not fail it
    d(0, "SET", "e", "1", "PX", "60000")
    d(0, "WATCH", "e")
    d(0, "MULTI")
    d(0, "GET", "e")
    assert d(0, "EXEC") == [b"1"]
    # already expired at WATCH time: its removal is no change
    d(0, "SET", "e", "1", "PX", "50")
    time.sleep(0.2)
    d(0, "WATCH", "e")
    d(1, "GET", "e")
    d(0, "MULTI")
    d(0, "GET", "e")
    assert d(0, "EXEC") == [None]
    # ...but writing it again is
    d(0, "SET", "e", "1", "PX", "50")
    time.sleep(0.2)
    d(0, "WATCH", "e")
    d(1, "SET", "e", "new")
    d(0, "MULTI")
    d(0, "GET", "e")
    assert d(0, "EXEC") is None


def test_queued_arguments_are_copies(cluster):
    """A whole transaction arrives in one write, with values big enough
    that the query buffer is consumed and reused while it is queued."""
    node, ref = cluster.node(), cluster.redis()
    rnd = random.Random(BASE_SEED)
    vals = [bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(1, 20000))) for _ in range(60)]
    for srv in (node, ref):
        c = RespConn("127.0.0.1", srv.port)
        req = [RespConn.encode(["MULTI"])]
        req += [RespConn.encode(["SET", f"q{i}", v]) for i, v in enumerate(vals)]
        req += [RespConn.encode(["EXEC"])]
        c.send_raw(b"".join(req))
        assert c.read()[1] == "OK"
        for _ in vals:
            assert c.read()[1] == "QUEUED"
        assert c.read()[1] == ["OK"] * len(vals)
        for i, v in enumerate(vals):
            assert c.call("GET", f"q{i}") == v
        c.close()


def test_client_gone_while_watching_and_queued(cluster):
    node = cluster.node()
    a = RespConn("127.0.0.1", node.port)
    a.call("WATCH", "k1", "k2")
    a.call("MULTI")
    a.call("SET", "k1", "x")
    a.close()
    b = RespConn("127.0.0.1", node.port)
    for i in range(50):
        b.call("SET", "k1", str(i))
    assert b.call("GET", "k1") == b"49"
    assert b.call("EXISTS", "k2") == 0
    b.close()


# --- random differential runs --------------------------------------------------

KEYS = ["k0", "k1", "k2", "k3", "h0", "h1", "s0", "s1"]


def random_command(rnd):
    k = rnd.choice(KEYS)
    r = rnd.random()
    if r < 0.10:
        return ["MULTI"]
    if r < 0.18:
        return ["EXEC"]
    if r < 0.21:
        return ["DISCARD"]
    if r < 0.29:
        return ["WATCH"] + rnd.sample(KEYS, rnd.randrange(1, 3))
    if r < 0.31:
        return ["UNWATCH"]
    if r < 0.35:
        return rnd.choice([["SET", k], ["NOSUCH", k], ["GET"], ["HSET", k, "f"]])  # queueing errors
    v = str(rnd.choice([rnd.randrange(-5, 50), "x", "", "3.5"]))
    f = rnd.choice(["f0", "f1", "f2"])
    choices = [
        ["SET", k, v], ["GET", k], ["INCR", k], ["APPEND", k, v], ["DEL", k],
        ["DEL", k, rnd.choice(KEYS)], ["EXISTS", k], ["TYPE", k], ["MSET", k, v, rnd.choice(KEYS), v],
        ["HSET", k, f, v], ["HGET", k, f], ["HDEL", k, f], ["HINCRBY", k, f, "2"], ["HLEN", k],
        ["SADD", k, v], ["SREM", k, v], ["SCARD", k], ["SISMEMBER", k, v],
        ["SINTERSTORE", k, rnd.choice(KEYS), rnd.choice(KEYS)],
        ["EXPIRE", k, "100000"], ["PERSIST", k], ["TTL", k],
        ["RENAME", k, rnd.choice(KEYS)], ["COPY", k, rnd.choice(KEYS)],
        ["COPY", k, rnd.choice(KEYS), "REPLACE"], ["GETDEL", k], ["SETNX", k, v],
    ]
    if rnd.random() < 0.01:
        return ["FLUSHALL"]
    return rnd.choice(choices)


@pytest.mark.parametrize("run", range(3))
def test_random_transactions_match_redis(side, run):
    seed = BASE_SEED + run
    print(f"seed {seed} (STRATA_SEED={BASE_SEED} replays this test)")
    rnd = random.Random(seed)
    count = int(1500 * float(os.environ.get("STRATA_DIFF_COUNT", "1")))
    deadline = time.monotonic() + 120
    outcomes = {"ran": 0, "watch failed": 0, "aborted": 0}
    for n in range(count):
        if time.monotonic() > deadline:
            break
        i = 0 if rnd.random() < 0.7 else 1
        cmd = random_command(rnd)
        r = side.do(i, *cmd)
        if cmd == ["EXEC"]:
            if isinstance(r, list):
                outcomes["ran"] += 1
            elif r is None:
                outcomes["watch failed"] += 1
            elif r.startswith(b"EXECABORT"):
                outcomes["aborted"] += 1
    print(f"{n + 1} commands matched; EXEC outcomes: {outcomes}")
    # the generator must reach every outcome, or the run proves little
    assert all(outcomes.values()), outcomes


# --- COPY and OBJECT -----------------------------------------------------------

def test_copy_matches_redis(side):
    d = side.do
    d(0, "SET", "str", "hello", "PX", "100000")
    d(0, "HSET", "hash", "a", "1", "b", "2", "c", "3")
    d(0, "SADD", "set", "x", "y", "z")
    d(0, "ZADD", "zset", "1.5", "m1", "-inf", "m0", "2", "m2")
    for src in ("str", "hash", "set", "zset"):
        assert d(0, "COPY", src, src + "2") == 1
        assert d(0, "COPY", src, src + "2") == 0
        assert d(0, "TYPE", src + "2") == d(0, "TYPE", src)
    assert d(0, "GET", "str2") == b"hello"
    for conn in (side.a[0], side.b[0]):  # TTLs drift: compare by property
        assert 99000 < conn.call("PTTL", "str2") <= 100000
        assert conn.call("PTTL", "hash2") == -1
    d(0, "HGETALL", "hash2")
    d(0, "SCARD", "set2")
    d(0, "SISMEMBER", "set2", "y")
    d(0, "ZRANGE", "zset2", "0", "-1", "WITHSCORES")
    d(0, "ZRANGEBYSCORE", "zset2", "-inf", "+inf")
    # the copy is independent of its source
    d(0, "HSET", "hash2", "a", "changed")
    assert d(0, "HGET", "hash", "a") == b"1"
    d(0, "DEL", "hash")
    assert d(0, "HLEN", "hash2") == 3
    d(0, "ZINCRBY", "zset", "10", "m0")
    d(0, "ZRANGE", "zset2", "0", "-1", "WITHSCORES")
    # REPLACE across types, DB 0, errors
    assert d(0, "COPY", "str", "set2", "REPLACE") == 1
    assert d(0, "TYPE", "set2") == "string"
    assert d(0, "COPY", "zset", "str", "DB", "0", "REPLACE") == 1
    d(0, "ZCARD", "str")
    assert d(0, "COPY", "nosuch", "x") == 0
    assert d(0, "COPY", "str", "str").startswith(b"ERR source and destination objects are the same")
    assert d(0, "COPY", "str", "y", "DB", "abc").startswith(b"ERR value is not an integer")
    assert d(0, "COPY", "str", "y", "FOO").startswith(b"ERR syntax error")
    assert d(0, "COPY", "str", "y", "DB").startswith(b"ERR syntax error")
    assert d(0, "COPY", "str").startswith(b"ERR wrong number of arguments")
    d(0, "DBSIZE")


def test_copy_other_db_is_refused(cluster):
    c = cluster.node().client()
    c.set("a", "1")
    with pytest.raises(Exception, match="DB index is out of range"):
        c.execute_command("COPY", "a", "b", "DB", "1")
    assert c.exists("b") == 0


def test_copy_of_a_big_hash_is_complete_and_independent(cluster):
    c = cluster.node().client()
    n = 20000
    p = c.pipeline(transaction=False)
    for i in range(0, n, 500):
        p.hset("big", mapping={f"f{j}": f"v{j}" for j in range(i, i + 500)})
    p.execute()
    assert c.copy("big", "big2") == 1
    assert c.hlen("big2") == n
    assert c.hget("big2", "f12345") == b"v12345"
    c.delete("big")
    assert c.hlen("big2") == n
    assert c.hget("big2", "f0") == b"v0"


def test_object_answers_are_truthful(cluster):
    c = cluster.node().client()
    c.set("s", "12")
    c.hset("h", "f", "v")
    c.sadd("st", "m")
    c.zadd("z", {"m": 1})
    enc = {k: c.object("encoding", k) for k in ("s", "h", "st", "z")}
    # the encodings Redis 7.0 would choose (t_copy.c; compared with
    # redis-server in test_node_surface.py)
    assert enc == {"s": b"int", "h": b"listpack", "st": b"hashtable", "z": b"listpack"}
    assert c.object("encoding", "missing") is None
    assert c.object("refcount", "h") == 1
    assert c.object("refcount", "missing") is None
    with pytest.raises(Exception, match="does not track access times"):
        c.object("idletime", "s")
    with pytest.raises(Exception, match="LFU maxmemory policy is not selected"):
        c.object("freq", "s")
    assert c.object("idletime", "missing") is None
    help_lines = RespConn("127.0.0.1", c.connection_pool.connection_kwargs["port"]).call("OBJECT", "HELP")
    assert help_lines[0].startswith("OBJECT <subcommand>") and any("REFCOUNT" in x for x in help_lines)


def test_object_errors_match_redis(side):
    d = side.do
    d(0, "SET", "s", "1")
    d(0, "OBJECT", "NOSUCH", "s")
    d(0, "OBJECT", "ENCODING")
    d(0, "OBJECT", "ENCODING", "s", "extra")
    d(0, "OBJECT", "HELP", "extra")
    d(0, "OBJECT")
    d(0, "OBJECT", "ENCODING", "missing")
    d(0, "OBJECT", "IDLETIME", "missing")
    d(0, "OBJECT", "FREQ", "s")  # the whole text of Redis's error
