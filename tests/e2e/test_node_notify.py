"""Keyspace notifications on strata-node, side by side with redis-server 7.0.

Each scenario runs the same commands on both servers while a second
connection on each is subscribed to __keyspace@0__:* and __keyevent@0__:*
(PSUBSCRIBE) and to a marker channel; after the commands a PUBLISH on the
marker ends the stream.  The transcripts (every reply of the commands,
then every message the subscriber got, as raw bytes) must be identical:
same events, same order, same framing, in RESP2 and RESP3.

Covered: the parsing and canonical CONFIG GET form of
notify-keyspace-events and its error; every command family's events
(strings, generic key commands, hashes, lists with moves, sets with
stores, sorted sets with stores and pops), new (n) and keymiss (m),
class subsets, MULTI/EXEC, blocking pops served later, lazy and active
expiry.
"""
import time

import pytest

from resp3 import Resp3Conn

MARK = "notify-test-done"


def run_events(server, commands, classes="KEA", proto=2, hz=None):
    cmd = Resp3Conn(server.port)
    sub = Resp3Conn(server.port)
    t = []
    cmd.call("FLUSHALL")
    if hz:
        cmd.call("CONFIG", "SET", "hz", str(hz))
    t.append(cmd.call("CONFIG", "SET", "notify-keyspace-events", classes))
    if proto == 3:
        sub.call("HELLO", "3")
    sub.send("PSUBSCRIBE", "__keyspace@0__:*", "__keyevent@0__:*")
    t += [sub.read(), sub.read()]
    t.append(sub.call("SUBSCRIBE", MARK))
    for c in commands:
        if isinstance(c, (int, float)):
            time.sleep(c)
            continue
        if isinstance(c, tuple):    # a random reply: keep only its type
            t.append(cmd.call(*c)[:1])
            continue
        t.append(cmd.call(*c))
    cmd.call("PUBLISH", MARK, "end")
    while True:
        m = sub.read()
        t.append(m)
        if MARK.encode() in m:
            break
    cmd.call("CONFIG", "SET", "notify-keyspace-events", "")
    if hz:
        cmd.call("CONFIG", "SET", "hz", "10")
    cmd.close()
    sub.close()
    return t


def show(t, i):
    """A few transcript entries around entry i, for a readable failure."""
    return "\n".join(f"{'>>' if j == i else '  '} {j}: {t[j]!r}" for j in range(max(0, i - 6), min(len(t), i + 4)))


def compare(got, want):
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            pytest.fail(f"entry {i} differs\nstrata:\n{show(got, i)}\nredis:\n{show(want, i)}")
    if len(got) != len(want):
        i = min(len(got), len(want))
        pytest.fail(f"lengths {len(got)} != {len(want)}\nstrata:\n{show(got, i)}\nredis:\n{show(want, i)}")


def same(pair, commands, **kw):
    node, redis_ = pair
    got = run_events(node, commands, **kw)
    want = run_events(redis_, commands, **kw)
    compare(got, want)
    return got


STRINGS = [
    ["SET", "s", "1"], ["SET", "s", "2", "EX", "100"], ["SET", "s", "3", "KEEPTTL"],
    ["SET", "s", "4", "NX"], ["SET", "s2", "x", "XX"], ["SET", "s", "5", "GET"],
    ["SET", "s", "6", "PXAT", "99999999999999"],
    ["SETNX", "s", "z"], ["SETNX", "s3", "z"], ["SETEX", "s4", "100", "v"], ["PSETEX", "s5", "100000", "v"],
    ["GETSET", "s", "7"], ["GETDEL", "s"], ["GETDEL", "s"], ["SET", "s", "1"],
    ["GETEX", "s", "EX", "100"], ["GETEX", "s", "PERSIST"], ["GETEX", "s", "PERSIST"], ["GETEX", "s"],
    ["GETEX", "s", "PXAT", "1"], ["GETEX", "nokey", "EX", "10"],
    ["APPEND", "a", "x"], ["APPEND", "a", "yz"], ["SETRANGE", "a", "1", "QQ"], ["SETRANGE", "a", "0", ""],
    ["SETRANGE", "r", "0", ""], ["SETRANGE", "r", "2", "x"],
    ["INCR", "n"], ["INCRBY", "n", "5"], ["DECR", "n"], ["DECRBY", "n", "2"], ["INCRBYFLOAT", "n", "1.5"],
    ["INCR", "a"], ["MSET", "m1", "a", "m2", "b", "m1", "c"], ["MSETNX", "m1", "x", "m3", "y"],
    ["MSETNX", "m4", "x", "m5", "y"], ["GET", "m1"], ["MGET", "m1", "zz", "m2"],
    ["SET", "px", "v", "PXAT", "1"], ["GET", "px"], ["SET", "px", "v", "EXAT", "1", "GET"],
    ["SET", "g", "1"], ["SET", "g", "2", "NX", "GET"], ["SET", "g", "3", "XX", "GET"], ["SETEX", "g", "0", "x"],
    ["INCRBYFLOAT", "g", "x"], ["APPEND", "g", ""], ["DECRBY", "g", "1"],
]

KEYS = [
    ["SET", "k1", "v"], ["SET", "k2", "v"], ["RPUSH", "kl", "a", "b"],
    ["DEL", "k1", "nokey", "k2"], ["SET", "k1", "v"], ["UNLINK", "k1", "kl"],
    ["SET", "e", "v"], ["EXPIRE", "e", "100"], ["EXPIRE", "e", "50", "GT"], ["EXPIRE", "e", "200", "GT"],
    ["PEXPIRE", "e", "500000", "NX"], ["EXPIREAT", "e", "99999999999"], ["PEXPIREAT", "e", "99999999999999"],
    ["TTL", "e"], ["PERSIST", "e"], ["PERSIST", "e"], ["PERSIST", "nokey"],
    ["EXPIRE", "e", "-1"], ["EXISTS", "e"], ["SET", "e", "v"], ["PEXPIREAT", "e", "1"],
    ["SET", "r1", "v"], ["RENAME", "r1", "r2"], ["SET", "r3", "w"], ["RENAME", "r2", "r3"],
    ["RENAME", "r3", "r3"], ["RENAMENX", "r3", "r4"], ["SET", "r5", "x"], ["RENAMENX", "r4", "r5"],
    ["RENAME", "nokey", "x"], ["HSET", "h", "f", "v"], ["RENAME", "h", "h2"],
    ["COPY", "r4", "c1"], ["COPY", "r4", "c1"], ["COPY", "r4", "c1", "REPLACE"], ["COPY", "h2", "c2"],
    ["COPY", "nokey", "c3"], ["TYPE", "nokey"], ["TYPE", "c2"], ["TOUCH", "c1", "nokey"],
    ["SET", "t", "v"], ["EXPIRE", "t", "0"], ["SET", "t", "v"], ["PEXPIRE", "t", "-5"], ["EXPIREAT", "t", "0"],
    ["SET", "t", "v", "EX", "100"], ["EXPIRE", "t", "100", "NX"], ["EXPIRE", "t", "100", "XX"],
    ["EXPIRE", "t", "10", "LT"], ["PERSIST", "t"], ["EXPIRE", "t", "10", "XX"],
    ["SET", "ex", "v", "EX", "100"], ["RENAME", "ex", "ex2"], ["COPY", "ex2", "ex3"], ["TTL", "ex3"],
    ["FLUSHALL"], ["SET", "x", "1"], ["FLUSHDB"],
]

HASHES = [
    ["HSET", "h", "a", "1", "b", "2"], ["HSET", "h", "a", "1"], ["HMSET", "h", "c", "3"],
    ["HSETNX", "h", "a", "9"], ["HSETNX", "h", "d", "4"], ["HSETNX", "h2", "x", "1"],
    ["HDEL", "h", "zz"], ["HDEL", "h", "a", "b", "zz"], ["HINCRBY", "h", "n", "5"], ["HINCRBY", "h", "n", "-2"],
    ["HINCRBYFLOAT", "h", "f", "1.5"], ["HINCRBY", "h", "c", "x"], ["HINCRBY", "hn", "a", "1"],
    ["HDEL", "h", "c", "d", "n", "f"], ["HDEL", "h2", "x"], ["HGET", "h", "a"], ["HGET", "nokey", "a"],
    ["HGETALL", "nokey"], ["HLEN", "h"], ["HDEL", "nokey", "x"],
]

LISTS = [
    ["LPUSH", "l", "a", "b"], ["RPUSH", "l", "c"], ["LPUSHX", "l", "d"], ["RPUSHX", "l", "e"],
    ["LPUSHX", "nol", "x"], ["RPUSHX", "nol", "x"], ["LINSERT", "l", "BEFORE", "c", "X"],
    ["LINSERT", "l", "AFTER", "zz", "Y"], ["LSET", "l", "0", "Z"], ["LPOP", "l"], ["RPOP", "l"],
    ["LPOP", "l", "2"], ["RPOP", "l", "0"], ["LPOP", "nol"], ["RPUSH", "l", "a", "b", "a", "c", "a"],
    ["LREM", "l", "2", "a"], ["LREM", "l", "0", "zz"], ["LTRIM", "l", "0", "-1"], ["LTRIM", "l", "1", "5"],
    ["LRANGE", "l", "0", "-1"], ["LTRIM", "l", "5", "1"], ["LTRIM", "nol", "0", "1"],
    ["RPUSH", "l", "x"], ["LREM", "l", "0", "x"],
    ["RPUSH", "src", "1", "2", "3"], ["RPOPLPUSH", "src", "dst"], ["LMOVE", "src", "dst", "LEFT", "RIGHT"],
    ["LMOVE", "dst", "dst", "LEFT", "LEFT"], ["LMOVE", "src", "dst", "RIGHT", "LEFT"],
    ["RPOPLPUSH", "src", "dst"], ["RPUSH", "one", "x"], ["LMOVE", "one", "one", "LEFT", "RIGHT"],
    ["LMPOP", "2", "nol", "dst", "LEFT", "COUNT", "2"], ["LMPOP", "1", "dst", "RIGHT", "COUNT", "9"],
    ["LMPOP", "1", "nol", "LEFT"], ["RPUSH", "b", "1", "2"], ["BLPOP", "b", "0"], ["BRPOP", "b", "0"],
    ["RPUSH", "b", "1"], ["BLMOVE", "b", "b2", "LEFT", "LEFT", "0"], ["BLMPOP", "0", "1", "b2", "RIGHT"],
    ["LLEN", "nol"], ["LINDEX", "nol", "0"],
    ["RPUSH", "src2", "only"], ["LMOVE", "src2", "newdst", "LEFT", "RIGHT"], ["RPUSH", "w", "1"],
    ["LMOVE", "w", "nd2", "RIGHT", "LEFT"], ["LSET", "nd2", "5", "x"], ["LSET", "nol", "0", "x"],
    ["LPUSH", "s9", "x"], ["SET", "str", "v"], ["LPUSH", "str", "x"], ["LMOVE", "nd2", "str", "LEFT", "LEFT"],
]

SETS = [
    ["SADD", "s", "a", "b", "c"], ["SADD", "s", "a"], ["SADD", "s", "a", "d"], ["SREM", "s", "zz"],
    ["SREM", "s", "a", "zz"], ("SPOP", "s"), ["SPOP", "s", "0"], ("SPOP", "s", "1"), ["SADD", "t", "x"],
    ["SPOP", "t"],
    ["SPOP", "nos"], ["SADD", "u", "1", "2", "3"], ("SPOP", "u", "5"), ["SADD", "u", "1", "2", "3"],
    ["SMOVE", "u", "v", "1"], ["SMOVE", "u", "v", "zz"], ["SMOVE", "u", "u", "2"], ["SADD", "v", "2"],
    ["SMOVE", "u", "v", "2"], ["SMOVE", "u", "v", "3"], ["SMOVE", "nos", "v", "1"],
    ["SADD", "p", "1", "2", "3"], ["SADD", "q", "2", "3", "4"],
    ["SINTERSTORE", "r", "p", "q"], ["SUNIONSTORE", "r", "p", "q"], ["SDIFFSTORE", "r", "p", "q"],
    ["SINTERSTORE", "r", "p", "nos"], ["SINTERSTORE", "r", "p", "nos"], ["SUNIONSTORE", "r2", "nos"],
    ["SDIFFSTORE", "r3", "p", "p"], ["SREM", "p", "1", "2", "3"], ["SMEMBERS", "nos"], ["SISMEMBER", "nos", "a"],
    ["SCARD", "q"], ["SINTER", "q", "nos"],
    ["SADD", "one", "x"], ["SMOVE", "one", "brandnew", "x"], ["SADD", "tw", "a", "b"], ("SPOP", "tw", "2"),
    ["SADD", "str", "x"], ["SET", "str", "v"], ["SMOVE", "brandnew", "str", "x"], ["SINTERSTORE", "str", "q"],
]

ZSETS = [
    ["ZADD", "z", "1", "a", "2", "b", "3", "c"], ["ZADD", "z", "1", "a"], ["ZADD", "z", "5", "a"],
    ["ZADD", "z", "XX", "1", "new"], ["ZADD", "nz", "XX", "1", "x"], ["ZADD", "z", "NX", "9", "a"],
    ["ZADD", "z", "GT", "CH", "1", "b"], ["ZADD", "z", "INCR", "2", "c"], ["ZINCRBY", "z", "0", "c"],
    ["ZINCRBY", "z", "1", "c"], ["ZINCRBY", "z2", "1", "m"], ["ZREM", "z", "zz"], ["ZREM", "z", "a", "zz"],
    ["ZADD", "r", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"],
    ["ZREMRANGEBYRANK", "r", "0", "0"], ["ZREMRANGEBYRANK", "r", "10", "20"],
    ["ZREMRANGEBYSCORE", "r", "2", "3"], ["ZREMRANGEBYSCORE", "r", "100", "200"],
    ["ZADD", "lx", "0", "a", "0", "b", "0", "c"], ["ZREMRANGEBYLEX", "lx", "[a", "[b"],
    ["ZREMRANGEBYLEX", "lx", "-", "+"], ["ZREMRANGEBYRANK", "r", "0", "-1"],
    ["ZADD", "p", "1", "a", "2", "b", "3", "c"], ["ZPOPMIN", "p"], ["ZPOPMAX", "p", "0"], ["ZPOPMAX", "p", "5"],
    ["ZPOPMIN", "nz"], ["ZADD", "p", "1", "a", "2", "b"], ["ZMPOP", "2", "nz", "p", "MAX"],
    ["ZMPOP", "1", "p", "MIN", "COUNT", "3"], ["ZADD", "p", "1", "a"], ["BZPOPMIN", "p", "0"],
    ["ZADD", "p", "1", "a", "2", "b"], ["BZMPOP", "0", "1", "p", "MAX", "COUNT", "2"],
    ["ZADD", "x", "1", "a", "2", "b"], ["ZADD", "y", "2", "b", "3", "c"],
    ["ZUNIONSTORE", "o", "2", "x", "y"], ["ZINTERSTORE", "o", "2", "x", "y"], ["ZDIFFSTORE", "o2", "2", "x", "y"],
    ["ZINTERSTORE", "o", "2", "x", "nz"], ["ZINTERSTORE", "o", "2", "x", "nz"], ["ZUNIONSTORE", "o3", "1", "nz"],
    ["ZRANGESTORE", "rs", "x", "0", "-1"], ["ZRANGESTORE", "rs", "x", "5", "6"], ["ZRANGESTORE", "rs", "x", "5", "6"],
    ["ZSCORE", "nz", "a"], ["ZRANGE", "nz", "0", "-1"], ["ZCARD", "x"],
    ["ZADD", "x", "LT", "CH", "0", "a", "9", "b"], ["ZADD", "x", "GT", "0", "a"], ["ZADD", "x", "INCR", "XX", "1", "nope"],
    ["ZADD", "x", "nan", "a"], ["ZINCRBY", "x", "inf", "a"], ["ZINCRBY", "x", "-inf", "a"],
    ["ZRANGESTORE", "x", "y", "0", "0"], ["ZUNIONSTORE", "y", "1", "x", "WEIGHTS", "2"],
    ["ZPOPMAX", "x", "10"], ["ZMPOP", "1", "y", "MAX", "COUNT", "1"],
]


# Reads of missing keys publish keymiss (class m); writes that look a key
# up do not, except where Redis reads it (store commands' sources, COPY's
# source, GETDEL, GETEX).
MISSES = [
    ["GET", "k1"], ["STRLEN", "k2"], ["GETRANGE", "k3", "0", "1"], ["SUBSTR", "k4", "0", "1"],
    ["TTL", "k5"], ["PTTL", "k6"], ["EXPIRETIME", "k7"], ["PEXPIRETIME", "k7"], ["TYPE", "k8"],
    ["EXISTS", "k9", "k10"], ["TOUCH", "k11"], ["OBJECT", "ENCODING", "k12"],
    ["HGET", "h1", "f"], ["HMGET", "h2", "f", "g"], ["HGETALL", "h3"], ["HKEYS", "h4"], ["HVALS", "h4"],
    ["HLEN", "h5"], ["HEXISTS", "h6", "f"], ["HSTRLEN", "h7", "f"], ["HRANDFIELD", "h8"], ["HSCAN", "h9", "0"],
    ["LLEN", "l1"], ["LRANGE", "l2", "0", "-1"], ["LINDEX", "l3", "0"], ["LPOS", "l4", "x"],
    ["SMEMBERS", "s1"], ["SISMEMBER", "s2", "x"], ["SMISMEMBER", "s3", "x"], ["SCARD", "s4"],
    ["SRANDMEMBER", "s5"], ["SINTER", "s6", "s7"], ["SUNION", "s8"], ["SDIFF", "s9", "s10"],
    ["SINTERCARD", "2", "s11", "s12"], ["SSCAN", "s13", "0"],
    ["ZSCORE", "z1", "m"], ["ZMSCORE", "z2", "m"], ["ZCARD", "z3"], ["ZCOUNT", "z4", "0", "1"],
    ["ZLEXCOUNT", "z5", "-", "+"], ["ZRANGE", "z6", "0", "-1"], ["ZRANGEBYSCORE", "z7", "0", "1"],
    ["ZREVRANGE", "z8", "0", "1"], ["ZRANK", "z9", "m"], ["ZREVRANK", "z10", "m"], ["ZRANDMEMBER", "z11"],
    ["ZUNION", "2", "z12", "z13"], ["ZINTER", "1", "z14"], ["ZDIFF", "1", "z15"],
    ["ZINTERCARD", "1", "z16"], ["ZSCAN", "z17", "0"],
    ["LPOP", "w1"], ["RPOP", "w2"], ["SPOP", "w3"], ["ZPOPMIN", "w4"], ["HDEL", "w5", "f"],
    ["SREM", "w6", "m"], ["ZREM", "w7", "m"], ["LREM", "w8", "0", "x"], ["LTRIM", "w9", "0", "1"],
    ["PERSIST", "w10"], ["EXPIRE", "w11", "10"], ["DEL", "w12"], ["RENAMENX", "w13", "w14"],
    ["SMOVE", "w15", "w16", "m"], ["RPOPLPUSH", "w17", "w18"], ["LMOVE", "w19", "w20", "LEFT", "LEFT"],
    ["LMPOP", "1", "w21", "LEFT"], ["ZMPOP", "1", "w22", "MIN"], ["INCR", "w23"], ["APPEND", "w24", "x"],
    ["SET", "w25", "x", "GET"], ["GETSET", "w26", "x"], ["GETDEL", "w27"], ["GETEX", "w28"],
    ["COPY", "w29", "w30"], ["SINTERSTORE", "w31", "w32"], ["ZUNIONSTORE", "w33", "1", "w34"],
    ["ZRANGESTORE", "w35", "w36", "0", "1"], ["SETRANGE", "w37", "0", ""], ["HSETNX", "w38", "f", "v"],
    ["LINSERT", "w39", "BEFORE", "a", "b"], ["LPUSHX", "w40", "x"], ["MSETNX", "w41", "x"],
    ["SUNIONSTORE", "w42", "w43", "w44"], ["SDIFFSTORE", "w45", "w46"], ["ZINTERSTORE", "w47", "2", "w48", "w49"],
    ["ZDIFFSTORE", "w50", "1", "w51"], ["MGET", "w52", "w53"],
]


def test_keymiss(pair):
    same(pair, MISSES, classes="KEm")
    same(pair, MISSES, classes="KEA")   # without m: nothing at all


@pytest.mark.parametrize("proto", [2, 3])
@pytest.mark.parametrize("family", ["strings", "keys", "hashes", "lists", "sets", "zsets"])
def test_family_events(pair, family, proto):
    seq = {"strings": STRINGS, "keys": KEYS, "hashes": HASHES, "lists": LISTS, "sets": SETS,
           "zsets": ZSETS}[family]
    got = same(pair, seq, classes="KEAnm", proto=proto)
    assert len(got) > len(seq) + 10  # events did flow


@pytest.mark.parametrize("classes", ["K$", "Eg", "El", "Kshz", "Ex", "En", "Em", "E$lshzg", "KEA", "g$", ""])
def test_class_subsets(pair, classes):
    seq = STRINGS[:12] + KEYS[:10] + HASHES[:6] + LISTS[:12] + SETS[:8] + ZSETS[:8]
    same(pair, seq, classes=classes)


def test_config_forms(pair):
    def scenario(srv):
        c = Resp3Conn(srv.port)
        t = []
        for v in ["KEA", "AKE", "KEAnm", "g$lshzxetd", "Kn", "nK", "mE", "x", "", "AAg", "Kdte"]:
            t.append(c.call("CONFIG", "SET", "notify-keyspace-events", v))
            t.append(c.call("CONFIG", "GET", "notify-keyspace-events"))
        for v in ["Q", "KEA ", "k"]:
            t.append(c.call("CONFIG", "SET", "notify-keyspace-events", v))
            t.append(c.call("CONFIG", "GET", "notify-keyspace-events"))
        # inside MULTI the value is checked at EXEC, and a bad one is an
        # error in EXEC's array that leaves the classes as they were
        for v in ["KEA", "Q", "Kx"]:
            t += [c.call("MULTI"), c.call("CONFIG", "SET", "notify-keyspace-events", v), c.call("EXEC"),
                  c.call("CONFIG", "GET", "notify-keyspace-events")]
        t.append(c.call("CONFIG", "SET", "notify-keyspace-events", ""))
        c.close()
        return t
    node, redis_ = pair
    compare(scenario(node), scenario(redis_))


def test_config_file_and_flag_checked(cluster, tmp_path):
    """A bad class string is refused before the node starts, also by -t."""
    from harness import binary, free_port
    import subprocess
    for args in (["-t", "--notify-keyspace-events", "KEQ"],
                 ["--notify-keyspace-events", "KEQ", "--port", str(free_port()), "--dir", str(tmp_path / "d")]):
        r = subprocess.run([binary("strata-node")] + args, capture_output=True, timeout=30)
        assert r.returncode != 0, args
        assert b"Invalid event class character" in r.stderr, r.stderr
    r = subprocess.run([binary("strata-node"), "-t", "--notify-keyspace-events", "KEx"],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_new_events_survive_canonical_text(pair):
    """'KEAn' reads back as 'AKE' but still publishes new-key events;
    setting 'AKE' again then turns them off."""
    seq = [["CONFIG", "SET", "notify-keyspace-events", "KEAn"], ["SET", "a", "1"],
           ["CONFIG", "GET", "notify-keyspace-events"], ["SET", "b", "1"],
           ["CONFIG", "SET", "notify-keyspace-events", "AKE"], ["SET", "c", "1"]]
    same(pair, seq, classes="KEA")


@pytest.mark.parametrize("proto", [2, 3])
def test_multi_exec(pair, proto):
    seq = [["MULTI"], ["SET", "a", "1"], ["LPUSH", "l", "x"], ["INCR", "a"], ["DEL", "a", "l"],
           ["HSET", "h", "f", "v"], ["EXEC"], ["MULTI"], ["SET", "b", "1"], ["DISCARD"],
           ["MULTI"], ["LPUSH", "h", "x"], ["SET", "c", "1"], ["EXEC"]]
    same(pair, seq, classes="KEAn", proto=proto)


def test_blocked_pop_served_later(pair):
    """A pop served when a push wakes a blocked client: the push's event,
    then the pop's (and the key's deletion)."""
    def scenario(srv):
        cmd = Resp3Conn(srv.port)
        blk = Resp3Conn(srv.port)
        sub = Resp3Conn(srv.port)
        cmd.call("FLUSHALL")
        cmd.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
        sub.send("PSUBSCRIBE", "__keyevent@0__:*")
        t = [sub.read()]
        blk.send("BLPOP", "q", "0")
        time.sleep(0.2)
        t.append(cmd.call("RPUSH", "q", "1"))
        t.append(blk.read())
        blk.send("BLMOVE", "q2", "q3", "LEFT", "RIGHT", "0")
        time.sleep(0.2)
        t.append(cmd.call("LPUSH", "q2", "1", "2"))
        t.append(blk.read())
        blk.send("BZPOPMAX", "zq", "0")
        time.sleep(0.2)
        t.append(cmd.call("ZADD", "zq", "1", "a"))
        t.append(blk.read())
        cmd.call("PUBLISH", "__keyevent@0__:end", "x")
        while True:
            m = sub.read()
            t.append(m)
            if b"__keyevent@0__:end" in m:
                break
        cmd.call("CONFIG", "SET", "notify-keyspace-events", "")
        for c in (cmd, blk, sub):
            c.close()
        return t
    node, redis_ = pair
    compare(scenario(node), scenario(redis_))


@pytest.fixture
def dbgpair(cluster):
    """strata-node and a redis-server that takes DEBUG (to stop its active
    expiry, which samples keys at random)."""
    return cluster.node(), cluster.redis(args=["--enable-debug-command", "yes"])


def test_lazy_expiry(dbgpair):
    """Reads and writes that meet an expired key remove it: 'expired'
    first, then the command's own events.  Redis's active expiry is off;
    strata's runs at hz 1, and the keys expire in the order they are
    touched.  strata's sweep (every 100 ms) may still remove them first, in
    the few ms between their expiry and the reads: the scenario is then
    run again (a broken lazy path fails every round)."""
    node, redis_ = dbgpair
    r = Resp3Conn(redis_.port)
    assert r.call("DEBUG", "SET-ACTIVE-EXPIRE", "0") == b"+OK\r\n"
    seq = [["SET", "a", "1", "PX", "30"], ["RPUSH", "l", "x"], ["PEXPIRE", "l", "31"],
           ["HSET", "h", "f", "v"], ["PEXPIRE", "h", "32"], ["SET", "w", "1", "PX", "33"],
           ["SADD", "s", "m"], ["PEXPIRE", "s", "34"], ["ZADD", "z", "1", "m"], ["PEXPIRE", "z", "35"],
           0.04, ["GET", "a"], ["LPUSH", "l", "y"], ["EXISTS", "h"], ["SET", "w", "2"],
           ["SMEMBERS", "s"], ["ZADD", "z", "2", "n"], ["GET", "a"]]
    for kw in ({"classes": "KEAnm"}, {"classes": "Ex", "proto": 3}):
        want = run_events(redis_, seq, **kw)
        for attempt in range(6):
            got = run_events(node, seq, **kw)
            if got == want:
                break
        compare(got, want)
    r.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    r.close()


def test_active_expiry(pair):
    """Keys nobody touches again expire through the active sweep."""
    def scenario(srv, proto):
        cmd = Resp3Conn(srv.port)
        sub = Resp3Conn(srv.port)
        cmd.call("FLUSHALL")
        cmd.call("CONFIG", "SET", "notify-keyspace-events", "Ex")
        if proto == 3:
            sub.call("HELLO", "3")
        t = [sub.call("SUBSCRIBE", "__keyevent@0__:expired")]
        cmd.call("SET", "k1", "v", "PX", "50")
        cmd.call("SADD", "k2", "m")
        cmd.call("PEXPIRE", "k2", "50")
        got = sorted(sub.read() for _ in range(2))   # the sweep's order is not defined
        t += got
        t.append(cmd.call("DBSIZE"))
        cmd.call("CONFIG", "SET", "notify-keyspace-events", "")
        cmd.close()
        sub.close()
        return t
    node, redis_ = pair
    for proto in (2, 3):
        compare(scenario(node, proto), scenario(redis_, proto))


def test_resp3_subscriber_writing_itself(pair):
    """A RESP3 connection may subscribe and write: Redis 7.0 puts the
    message in its output as the event happens, before the command's reply
    (inside EXEC's array, even)."""
    def scenario(srv):
        c = Resp3Conn(srv.port)
        t = [c.call("HELLO", "3")[:1]]
        t.append(c.call("CONFIG", "SET", "notify-keyspace-events", "KEA"))
        t.append(c.call("SUBSCRIBE", "__keyevent@0__:set", "__keyevent@0__:del"))
        t.append(c.read())
        t.append(c.call("SET", "a", "1"))
        t.append(c.read())
        t += [c.call("MULTI"), c.call("SET", "a", "2"), c.call("DEL", "a"), c.call("EXEC")]
        for _ in range(2):
            t.append(c.read())
        t.append(c.call("PING"))
        # inside MULTI the value is checked at EXEC, and a bad one is an
        # error in EXEC's array that leaves the classes as they were
        for v in ["KEA", "Q", "Kx"]:
            t += [c.call("MULTI"), c.call("CONFIG", "SET", "notify-keyspace-events", v), c.call("EXEC"),
                  c.call("CONFIG", "GET", "notify-keyspace-events")]
        t.append(c.call("CONFIG", "SET", "notify-keyspace-events", ""))
        c.close()
        return t
    node, redis_ = pair
    compare(scenario(node), scenario(redis_))


def test_config_file_and_flag_checked(cluster, tmp_path):
    """A bad class string is refused before the node starts, also by -t."""
    from harness import binary, free_port
    import subprocess
    for args in (["-t", "--notify-keyspace-events", "KEQ"],
                 ["--notify-keyspace-events", "KEQ", "--port", str(free_port()), "--dir", str(tmp_path / "d")]):
        r = subprocess.run([binary("strata-node")] + args, capture_output=True, timeout=30)
        assert r.returncode != 0, args
        assert b"Invalid event class character" in r.stderr, r.stderr
    r = subprocess.run([binary("strata-node"), "-t", "--notify-keyspace-events", "KEx"],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_scan_and_randomkey_remove_expired(dbgpair):
    """SCAN (for keys its MATCH lets through; its TYPE filter reads them,
    a keymiss too) and RANDOMKEY delete the expired keys they meet, as
    Redis does.  One key per step keeps Redis's hash order out of it."""
    node, redis_ = dbgpair
    r = Resp3Conn(redis_.port)
    assert r.call("DEBUG", "SET-ACTIVE-EXPIRE", "0") == b"+OK\r\n"
    # The SETs of m1, m2 place the deletions in the stream: a sweep that
    # came first would put "expired" before them.
    steps = [
        [["SET", "sc1", "v", "PX", "20"], ["SET", "other", "v"], 0.04, ["KEYS", "*"], ["SET", "m0", "x"],
         ["SCAN", "0", "MATCH", "zz*"], ["SET", "m1", "x"], ["SCAN", "0", "MATCH", "sc*"], ["SET", "m2", "x"]],
        [["SET", "sc2", "v", "PX", "20"], 0.04, ["SET", "m1", "x"], ["SCAN", "0", "TYPE", "hash"],
         ["SET", "m2", "x"]],
        [["SET", "rk", "v", "PX", "20"], 0.04, ["SET", "m1", "x"], ["DEL", "m1"], ["RANDOMKEY"], ["DBSIZE"],
         ["SET", "m2", "x"]],
    ]
    for seq in steps:
        want = run_events(redis_, seq, classes="KEAm")
        for attempt in range(6):
            got = run_events(node, seq, classes="KEAm")
            if got == want:
                break
        compare(got, want)
    r.call("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    r.close()


# Commands whose invalidation and events a connection sees interleaved:
# (setup, command, keys the tracking connection has read).
ORDER_CASES = [
 ([], ["SET","k","1"], ["k"]),
 ([["SET","k","0"]], ["SET","k","1","EX","100"], ["k"]),
 ([], ["SETEX","k","100","v"], ["k"]),
 ([["SET","k","0"]], ["GETSET","k","1"], ["k"]),
 ([["SET","k","0"]], ["GETDEL","k"], ["k"]),
 ([["SET","k","0"]], ["GETEX","k","EX","100"], ["k"]),
 ([["SET","k","0","EX","100"]], ["GETEX","k","PERSIST"], ["k"]),
 ([["SET","k","0"]], ["APPEND","k","x"], ["k"]),
 ([["SET","k","0"]], ["SETRANGE","k","0","x"], ["k"]),
 ([["SET","k","0"]], ["INCR","k"], ["k"]),
 ([["SET","k","0"]], ["INCRBYFLOAT","k","1"], ["k"]),
 ([], ["MSET","k","1","j","2"], ["k","j"]),
 ([], ["MSETNX","k","1","j","2"], ["k","j"]),
 ([["SET","k","0"],["SET","j","0"]], ["DEL","k","j"], ["k","j"]),
 ([["SET","k","0"]], ["EXPIRE","k","100"], ["k"]),
 ([["SET","k","0"]], ["EXPIRE","k","0"], ["k"]),
 ([["SET","k","0","EX","100"]], ["PERSIST","k"], ["k"]),
 ([["SET","k","0"]], ["RENAME","k","j"], ["k","j"]),
 ([["SET","k","0"]], ["COPY","k","j"], ["k","j"]),
 ([], ["HSET","k","f","v"], ["k"]),
 ([], ["HSETNX","k","f","v"], ["k"]),
 ([["HSET","k","f","v"]], ["HDEL","k","f"], ["k"]),
 ([["HSET","k","f","v","g","w"]], ["HDEL","k","f"], ["k"]),
 ([], ["HINCRBY","k","f","1"], ["k"]),
 ([], ["HINCRBYFLOAT","k","f","1"], ["k"]),
 ([], ["LPUSH","k","a"], ["k"]),
 ([["RPUSH","k","a"]], ["LPUSHX","k","a"], ["k"]),
 ([["RPUSH","k","a"]], ["LINSERT","k","BEFORE","a","b"], ["k"]),
 ([["RPUSH","k","a"]], ["LSET","k","0","b"], ["k"]),
 ([["RPUSH","k","a","b"]], ["LPOP","k"], ["k"]),
 ([["RPUSH","k","a"]], ["LPOP","k"], ["k"]),
 ([["RPUSH","k","a"]], ["RPOP","k","5"], ["k"]),
 ([["RPUSH","k","a","b"]], ["LTRIM","k","0","0"], ["k"]),
 ([["RPUSH","k","a"]], ["LTRIM","k","1","0"], ["k"]),
 ([["RPUSH","k","a","b"]], ["LREM","k","0","a"], ["k"]),
 ([["RPUSH","k","a"]], ["LREM","k","0","a"], ["k"]),
 ([["RPUSH","k","a"]], ["LMOVE","k","j","LEFT","RIGHT"], ["k","j"]),
 ([["RPUSH","k","a","b"],["RPUSH","j","x"]], ["RPOPLPUSH","k","j"], ["k","j"]),
 ([["RPUSH","k","a","b"]], ["LMOVE","k","k","LEFT","RIGHT"], ["k"]),
 ([["RPUSH","k","a"]], ["LMPOP","1","k","LEFT"], ["k"]),
 ([["RPUSH","k","a"]], ["BLPOP","k","0"], ["k"]),
 ([], ["SADD","k","a"], ["k"]),
 ([["SADD","k","a","b"]], ["SREM","k","a"], ["k"]),
 ([["SADD","k","a"]], ["SREM","k","a"], ["k"]),
 ([["SADD","k","a","b"]], ["SPOP","k"], ["k"]),
 ([["SADD","k","a"]], ["SPOP","k"], ["k"]),
 ([["SADD","k","a","b","c"]], ["SPOP","k","2"], ["k"]),
 ([["SADD","k","a","b"]], ["SPOP","k","5"], ["k"]),
 ([["SADD","k","a"]], ["SMOVE","k","j","a"], ["k","j"]),
 ([["SADD","k","a","b"],["SADD","j","x"]], ["SMOVE","k","j","a"], ["k","j"]),
 ([["SADD","p","a"]], ["SUNIONSTORE","k","p"], ["k"]),
 ([["SADD","p","a"],["SET","k","x"]], ["SINTERSTORE","k","p","nop"], ["k"]),
 ([], ["ZADD","k","1","a"], ["k"]),
 ([["ZADD","k","1","a"]], ["ZINCRBY","k","1","a"], ["k"]),
 ([["ZADD","k","1","a","2","b"]], ["ZREM","k","a"], ["k"]),
 ([["ZADD","k","1","a"]], ["ZREM","k","a"], ["k"]),
 ([["ZADD","k","1","a"]], ["ZREMRANGEBYRANK","k","0","-1"], ["k"]),
 ([["ZADD","k","1","a","2","b"]], ["ZREMRANGEBYSCORE","k","1","1"], ["k"]),
 ([["ZADD","k","1","a","2","b"]], ["ZPOPMIN","k"], ["k"]),
 ([["ZADD","k","1","a"]], ["ZPOPMAX","k"], ["k"]),
 ([["ZADD","k","1","a"]], ["ZMPOP","1","k","MIN"], ["k"]),
 ([["ZADD","k","1","a"]], ["BZPOPMIN","k","0"], ["k"]),
 ([["ZADD","p","1","a"]], ["ZUNIONSTORE","k","1","p"], ["k"]),
 ([["ZADD","p","1","a"]], ["ZRANGESTORE","k","p","0","-1"], ["k"]),
 ([["ZADD","p","1","a"],["SET","k","x"]], ["ZRANGESTORE","k","p","5","6"], ["k"]),
]


@pytest.mark.parametrize("classes", ["KEA", "KEAn"])
def test_invalidation_order(pair, classes):
    """A RESP3 connection that tracks keys and is subscribed to the events
    sees each command's invalidations and events in Redis's order (Redis
    signals the key before some events and after others)."""
    def scenario(srv):
        a = Resp3Conn(srv.port)
        t = []
        for setup, cmd, keys in ORDER_CASES:
            a.call("FLUSHALL")
            for s in setup:
                a.call(*s)
            a.call("CONFIG", "SET", "notify-keyspace-events", classes)
            b = Resp3Conn(srv.port)
            b.call("HELLO", "3")
            b.call("CLIENT", "TRACKING", "ON")
            for k in keys:
                b.call("EXISTS", k)
            b.send("PSUBSCRIBE", "__keyevent@0__:*")
            b.read()
            t.append(" ".join(cmd).encode())
            t.append(a.call(*cmd)[:1])
            b.send("PING")
            while True:
                r = b.read()
                if r == b"+PONG\r\n":
                    break
                t.append(r)
            b.close()
        a.call("CONFIG", "SET", "notify-keyspace-events", "")
        a.close()
        return t
    node, redis_ = pair
    compare(scenario(node), scenario(redis_))
