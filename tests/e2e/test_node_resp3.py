"""RESP3 on strata-node: after HELLO 3, every data-type reply must be the
bytes redis-server 7.0 sends, and RESP2 replies must stay as they were.

Three kinds of tests:
  - the reply reader of difftest.py on hand-written RESP3 input, and the
    Differ's RESP3 mode on two redis-servers (no false alarms) and on a
    deliberately mismatched pair (it catches wrong reply types);
  - the seeded differential runs of the node (all data-type families, a
    few seeds, the zset families alone) in RESP3, and the scripted
    Differ tests of the hash, list and set modules with a RESP3 Differ;
  - scripted scenarios run on the node and on redis-server with the raw
    replies compared: blocking pops timing out and woken up, MULTI/EXEC
    (queued replies, EXEC's array, WATCH aborts), pops on missing keys,
    ZPOPMIN with and without a count, and a table of one-shot commands,
    each in RESP3 and RESP2.

Seeds are printed; STRATA_SEED=N replays a run, STRATA_DIFF_COUNT scales it.
"""
import functools
import socket

import pytest

import difftest
from difftest import (BASE_SEED, BigNumber, BlobError, Cmd, Differ, Double, Error, Map,
                      Mismatch, Push, RespConn, Set, Verbatim, n, resp2_view, run_diff,
                      shape_difference, wait_blocked)
# The data-type generators live in the per-type test modules: importing
# them registers their families in difftest.GENERATORS.
import test_node_hash
import test_node_list
import test_node_set
import test_node_zset

TYPE_FAMILIES = ["hash", "hash-mix", "list", "list-mix", "set", "set-mix",
                 "zset", "zset_lex", "string", "keys"]


# --- the RESP3 reader ----------------------------------------------------------------

class _FedConn(RespConn):
    """A RespConn reading from one end of a socket pair (no server)."""

    def __init__(self, data):
        self.sock, self.peer = socket.socketpair()
        self.sock.settimeout(5)
        self.buf = bytearray()
        self.pos = 0
        self.attribute = None
        self.peer.sendall(data)


def test_reader_parses_every_resp3_type():
    replies = [
        (b"_\r\n", None),
        (b",1.5\r\n", b"1.5"), (b",-inf\r\n", b"-inf"), (b",inf\r\n", b"inf"),
        (b"#t\r\n", True), (b"#f\r\n", False),
        (b"(3492890328409238509324850943850943825024385\r\n",
         3492890328409238509324850943850943825024385),
        (b"!21\r\nSYNTAX invalid syntax\r\n", b"SYNTAX invalid syntax"),
        (b"=15\r\ntxt:Some string\r\n", b"Some string"),
        (b"%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n_\r\n", ["first", 1, b"second", None]),
        (b"~3\r\n:1\r\n$1\r\na\r\n,2\r\n", [1, b"a", b"2"]),
        (b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n", [b"message", b"ch", b"hi"]),
        (b"*2\r\n*2\r\n$1\r\na\r\n,1\r\n%0\r\n", [[b"a", b"1"], []]),
        (b"|1\r\n+ttl\r\n:3600\r\n:7\r\n", 7),
        (b"$-1\r\n", None), (b"*-1\r\n", None), (b"-ERR x\r\n", b"ERR x"),
    ]
    c = _FedConn(b"".join(raw for raw, _ in replies))
    got = [c.read() for _ in replies]
    for (raw, want), (graw, value) in zip(replies, got):
        assert graw == raw
        assert value == want, raw
    types = [type(v) for _, v in got]
    assert types[1] is Double and got[1][1].value == 1.5
    assert types[4] is bool
    assert types[6] is BigNumber
    assert types[7] is BlobError and isinstance(got[7][1], Error)
    assert types[8] is Verbatim and got[8][1].format == b"txt"
    assert types[9] is Map and got[9][1].pairs() == [("first", 1), (b"second", None)]
    assert types[10] is Set and types[11] is Push
    assert type(got[12][1][1]) is Map
    a = _FedConn(b"|1\r\n+ttl\r\n:3600\r\n:7\r\n:8\r\n")
    assert a.read()[1] == 7 and a.attribute == ["ttl", 3600]
    assert a.read()[1] == 8 and a.attribute is None   # each reply has its own
    for bad in (b"#x\r\n", b",abc\r\n", b"=3\r\nabc\r\n", b"_x\r\n", b"?\r\n"):
        with pytest.raises(difftest.ProtocolError):
            _FedConn(bad).read()


def test_resp2_view_and_shapes():
    nested = [[b"a", Double(b"1")], [b"b", Double(b"2.5")]]
    assert resp2_view(nested) == [b"a", b"1", b"b", b"2.5"]
    assert resp2_view([b"key", nested]) == [b"key", [b"a", b"1", b"b", b"2.5"]]
    assert resp2_view([b"0", [b"k1", b"k2"]]) == [b"0", [b"k1", b"k2"]]   # SCAN: untouched
    assert difftest.pairs_of(nested) == [(b"a", b"1"), (b"b", b"2.5")]
    assert difftest.pairs_of([b"f", b"v"]) == [(b"f", b"v")]
    assert shape_difference(Map([b"f", b"v"]), Map([b"g", b"w"])) is None
    assert shape_difference([b"0", [b"a"]], [b"17", [b"b", b"c"]]) is None
    assert "list here, Map" in shape_difference([b"f", b"v"], Map([b"f", b"v"]))
    assert "bytes here, Double" in shape_difference([[b"a", b"1"]], [[b"a", Double(b"1")]])
    assert shape_difference([b"a", b"1"], [[b"a", Double(b"1")]]) is not None
    assert shape_difference(b"x", Verbatim(b"x")) is not None


# --- the Differ in RESP3 --------------------------------------------------------------

def test_differ_resp3_finds_no_difference_between_two_redis_servers(cluster):
    a, b = cluster.redis("redis-a"), cluster.redis("redis-b")
    d, done = run_diff(a.port, b.port, BASE_SEED, n(2000), proto=3,
                       families=TYPE_FAMILIES + ["server"])
    assert done == n(2000)
    assert d.a.hello[b"proto"] == 3


def test_differ_resp3_catches_wrong_reply_types(cluster):
    """The same server in both protocols: the bytes differ, and for commands
    compared by property the RESP3 types must match too."""
    r = cluster.redis()
    d = Differ(r.port, r.port, seed=BASE_SEED, proto=3)
    try:
        d.a.call(b"HELLO", b"2")  # the side under test falls back to RESP2
        d.a.call(b"HSET", b"h", b"f", b"v")
        d.a.call(b"ZADD", b"z", b"1", b"m")
        d.a.call(b"SADD", b"s", b"m")
        checked = [
            Cmd([b"HGETALL", b"h"], keys=[b"h"], check=test_node_hash.check_pairs_unordered),
            Cmd([b"HRANDFIELD", b"h", b"1", b"WITHVALUES"], keys=[b"h"],
                check=test_node_hash.check_hrandfield),
            Cmd([b"ZRANDMEMBER", b"z", b"1", b"WITHSCORES"], keys=[b"z"],
                check=test_node_zset.check_zrandmember),
            Cmd([b"SMEMBERS", b"s"], keys=[b"s"], check=difftest.check_unordered),
            Cmd([b"INFO", b"keyspace"], keyspace=True, check=difftest.check_info),
        ]
        for cmd in checked:
            with pytest.raises(Mismatch, match="in the reference"):
                d.execute(cmd)
        # and a plain command is compared byte for byte
        with pytest.raises(Mismatch, match="replies differ"):
            d.execute(Cmd([b"ZSCORE", b"z", b"m"], keys=[b"z"]))
        # reconnect() speaks RESP3 again on both sides
        d.reconnect()
        for cmd in checked:
            d.execute(cmd)
    finally:
        d.close()


# --- strata-node against redis-server, RESP3 ------------------------------------------

def test_node_diff_all_families_resp3(pair):
    """Every data-type family (and keys, strings) in RESP3.  The server
    family runs on its own below."""
    node, ref = pair
    _, done = run_diff(node, ref, BASE_SEED, n(6000), proto=3, families=TYPE_FAMILIES)
    assert done == n(6000)


@pytest.mark.parametrize("offset", [1, 2])
def test_node_diff_more_seeds_resp3(pair, offset):
    node, ref = pair
    run_diff(node, ref, BASE_SEED + offset, n(2500), proto=3, families=TYPE_FAMILIES)


def test_node_diff_zsets_resp3(pair):
    """The family with the most RESP3 shapes (doubles, nested pairs)."""
    node, ref = pair
    run_diff(node, ref, BASE_SEED + 30, n(4000), proto=3, families=["zset", "zset_lex"])


def test_node_diff_server_family_resp3(pair):
    node, ref = pair
    c = RespConn("127.0.0.1", node.port, proto=3)
    info = c.call(b"INFO", b"server")
    c.close()
    assert type(info) is Verbatim  # as redis-server sends INFO in RESP3
    run_diff(node, ref, BASE_SEED + 40, n(1500), proto=3, families=["server", "keys"])


# The per-type tests that drive a Differ through a fixed script (edge cases,
# big collections) run again with the Differ in RESP3.
TYPE_SCRIPTS = [
    (test_node_hash, "test_hash_exact_edge_cases"),
    (test_node_hash, "test_hash_big_sampling_and_scan"),
    (test_node_list, "test_list_exact_edge_cases"),
    (test_node_list, "test_list_long_middle_edits"),
    (test_node_set, "test_set_exact_edge_cases"),
    (test_node_set, "test_set_algebra_on_big_sets"),
]


@pytest.mark.parametrize("module, name", TYPE_SCRIPTS, ids=[name for _, name in TYPE_SCRIPTS])
def test_type_scripts_in_resp3(pair, monkeypatch, module, name):
    monkeypatch.setattr(module, "Differ", functools.partial(Differ, proto=3))
    getattr(module, name)(pair)


# --- scripted scenarios: the same steps on both servers, raw replies compared --------

def run_script(port, protos, steps):
    """Run `steps` on a server with one connection per entry of `protos`
    (2 or 3).  Steps: ("call", i, args) sends and reads; ("do", i, args)
    too, without recording the reply; ("send", i, args) only sends;
    ("read", i) reads; ("blocked", n) waits until n clients are
    blocked (asked on a RESP2 control connection); ("unblock", i, how)
    sends CLIENT UNBLOCK for connection i (how: TIMEOUT or ERROR) from the
    control connection.  Returns the raw replies read, tagged with their
    step."""
    conns = [RespConn("127.0.0.1", port, timeout=10, proto=p) for p in protos]
    ctl = RespConn("127.0.0.1", port, timeout=10)
    out = []
    try:
        ctl.call(b"FLUSHALL")
        ids = [c.call(b"CLIENT", b"ID") for c in conns]
        for step in steps:
            op = step[0]
            if op == "call":
                conns[step[1]].send(step[2])
                out.append((step, conns[step[1]].read()[0]))
            elif op == "do":
                conns[step[1]].call(*step[2])
            elif op == "send":
                conns[step[1]].send(step[2])
            elif op == "read":
                out.append((step, conns[step[1]].read()[0]))
            elif op == "blocked":
                wait_blocked(ctl, step[1])
            elif op == "unblock":
                ctl.send([b"CLIENT", b"UNBLOCK", ids[step[1]], step[2]])
                out.append((step, ctl.read()[0]))
            else:
                raise ValueError(op)
    finally:
        for c in conns + [ctl]:
            c.close()
    return out


def same_on_both(pair, protos, steps):
    node, ref = pair
    got, want = run_script(node.port, protos, steps), run_script(ref.port, protos, steps)
    for (step, a), (_, b) in zip(got, want):
        assert a == b, f"{step!r}:\n  strata:    {a!r}\n  reference: {b!r}"
    assert len(got) == len(want)
    return want


def calls(i, *cmds):
    return [("call", i, [x if isinstance(x, bytes) else str(x).encode() for x in c.split()])
            for c in cmds]


BLOCKING_TIMEOUTS = [
    "BLPOP nokey1 nokey2 0.05", "BRPOP nokey1 0.05", "BLMOVE nokey1 dst LEFT RIGHT 0.05",
    "BRPOPLPUSH nokey1 dst 0.05", "BLMPOP 0.05 2 nokey1 nokey2 LEFT",
    "BLMPOP 0.05 1 nokey1 RIGHT COUNT 3", "BZPOPMIN nokey1 nokey2 0.05", "BZPOPMAX nokey1 0.05",
    "BZMPOP 0.05 1 nokey1 MIN", "BZMPOP 0.05 2 nokey1 nokey2 MAX COUNT 2",
]


@pytest.mark.parametrize("proto", [3, 2])
def test_blocking_pops_time_out_with_null(pair, proto):
    replies = same_on_both(pair, [proto], calls(0, *BLOCKING_TIMEOUTS))
    nulls = {b"_\r\n"} if proto == 3 else {b"*-1\r\n", b"$-1\r\n"}
    assert {raw for _, raw in replies} <= nulls


# A waiter (connection 0) blocks; connection 1 (the other protocol) feeds
# it.  Each waiter blocks on keys no earlier step left elements in.
WAKEUPS = [
    ("BLPOP q 0", "RPUSH q a b"),
    ("BRPOP q1 0", "RPUSH q1 c"),
    ("BLMOVE q2 dst LEFT RIGHT 0", "RPUSH q2 x"),
    ("BRPOPLPUSH q3 dst 0", "RPUSH q3 y"),
    ("BLMPOP 0 2 m1 m2 LEFT COUNT 2", "RPUSH m2 1 2 3"),
    ("BZPOPMIN z 0", "ZADD z 1.5 a 2 b"),
    ("BZPOPMAX zz 0", "ZADD zz 3.25 c"),
    ("BZPOPMAX z1 z2 0", "ZADD z2 inf top -inf bottom"),
    ("BZMPOP 0 1 z3 MIN COUNT 2", "ZADD z3 1 a 2 b 3 c"),
    ("BZMPOP 0 2 z4 z5 MAX", "ZADD z5 0.1 a 0.2 b"),
]


@pytest.mark.parametrize("protos", [[3, 2], [2, 3]], ids=["resp3-waiter", "resp2-waiter"])
def test_blocking_pops_woken_up(pair, protos):
    steps = []
    for block, feed in WAKEUPS:
        steps.append(("send", 0, block.encode().split()))
        steps.append(("blocked", 1))
        steps += calls(1, feed)
        steps.append(("read", 0))
        steps.append(("blocked", 0))
    # CLIENT UNBLOCK: a timeout (null) or an error
    for block, how in (("BZPOPMIN nz 0", b"TIMEOUT"), ("BLMPOP 0 1 nl LEFT", b"ERROR"),
                       ("BLMOVE nl dst LEFT LEFT 0", b"TIMEOUT"), ("BZMPOP 0 1 nz MIN", b"TIMEOUT")):
        steps += [("send", 0, block.encode().split()), ("blocked", 1), ("unblock", 0, how),
                  ("read", 0)]
    steps += calls(1, "LRANGE dst 0 -1", "LRANGE q 0 -1", "ZRANGE z 0 -1 WITHSCORES",
                      "ZRANGE z2 0 -1 WITHSCORES", "ZRANGE z3 0 -1 WITHSCORES")
    replies = same_on_both(pair, protos, steps)
    if protos[0] == 3:
        woke = [raw for step, raw in replies if step[0] == "read"]
        assert b",1.5\r\n" in woke[5] and woke[9].startswith(b"*2\r\n$2\r\nz5\r\n*1\r\n*2\r\n")


def test_blocking_pop_in_resp3_multi_does_not_block(pair):
    same_on_both(pair, [3], calls(0, "MULTI", "BLPOP nokey 0", "BZPOPMIN nokey 0",
                                  "BLMPOP 0 1 nokey LEFT", "BZMPOP 0 1 nokey MIN", "EXEC"))


MULTI_BODY = ["HSET h a 1 b 2", "HGETALL h", "HGETALL nokey", "HSET h1 a 1",
              "HRANDFIELD h1 -2 WITHVALUES", "SADD s x", "SMEMBERS s", "SPOP nokey 2",
              "ZADD z 1 a 2.5 b", "ZADD z INCR 1 a",
              "ZSCORE z a", "ZMSCORE z a nope", "ZRANGE z 0 -1 WITHSCORES", "ZPOPMIN z",
              "ZPOPMAX z 3", "LPOP nokey 2", "GET nokey", "INCRBYFLOAT f 1.5",
              "HINCRBYFLOAT h a 0.5", "LPOS nokey a", "ZMPOP 1 nokey MIN", "SET k v", "INCR k"]


@pytest.mark.parametrize("proto", [3, 2])
def test_multi_exec(pair, proto):
    steps = calls(0, "MULTI", *MULTI_BODY, "EXEC")
    # an aborted transaction: WATCH, then another client changes the key
    steps += calls(0, "WATCH k", "GET k")
    steps += calls(1, "SET k other")
    steps += calls(0, "MULTI", "GET k", "HGETALL h", "EXEC")
    # WATCH on a key that expires is not an abort in 7.0; a touched one is
    steps += calls(0, "WATCH h", "MULTI", "HGETALL h", "EXEC")
    # errors: queued errors abort, run-time errors stay in the array
    steps += calls(0, "MULTI", "HGETALL", "EXEC", "MULTI", "HSET k a b", "SMEMBERS s", "EXEC",
                   "EXEC", "DISCARD", "MULTI", "ZSCORE z b", "DISCARD", "MULTI", "MULTI", "EXEC")
    replies = same_on_both(pair, [proto, 2], steps)
    if proto == 3:
        aborted = [raw for step, raw in replies if step[2] == [b"EXEC"]][1]
        assert aborted == b"_\r\n"


@pytest.mark.parametrize("proto", [3, 2])
def test_pops_on_missing_and_existing_keys(pair, proto):
    same_on_both(pair, [proto], calls(
        0, "LPOP nokey", "LPOP nokey 2", "RPOP nokey 0", "RPOP nokey 3", "LMPOP 1 nokey LEFT",
        "SPOP nokey", "SPOP nokey 3", "ZPOPMIN nokey", "ZPOPMIN nokey 2", "ZPOPMAX nokey 0",
        "ZMPOP 2 nokey nokey2 MAX COUNT 2",
        "RPUSH l a b c", "LPOP l 0", "LPOP l 2", "RPOP l 1", "RPOP l", "LPOP l 5",
        "ZADD z 1 a 2 b 3 c 4 d 5 e 6 f", "ZPOPMIN z", "ZPOPMIN z 1", "ZPOPMIN z 0",
        "ZPOPMAX z", "ZPOPMAX z 2", "ZPOPMIN z 10", "ZPOPMIN z",
        "ZADD z 1 a 2 b 3 c", "ZMPOP 1 z MIN", "ZMPOP 1 z MAX COUNT 10",
        "SADD s a", "SPOP s 5", "SADD s 1", "SPOP s 0", "SPOP s"))


# One-shot commands whose replies are deterministic.
TABLE = [
    # hashes
    "HSET h a 1 b 2.5", "HGETALL h", "HGETALL nokey", "HKEYS h", "HVALS h", "HMGET h a nope",
    "HGET h nope", "HRANDFIELD h 2 WITHVALUES", "HRANDFIELD h 5 WITHVALUES", "HRANDFIELD h 5",
    "HRANDFIELD nokey 2 WITHVALUES", "HRANDFIELD nokey", "HRANDFIELD h 0 WITHVALUES",
    "HINCRBYFLOAT h b 1", "HINCRBY h a 1", "HSCAN h 0", "HSCAN nokey 0", "HSTRLEN h a",
    "HEXISTS h a", "HDEL h b", "HRANDFIELD h -3 WITHVALUES", "HRANDFIELD h -2",
    # sets
    # (small integers: an intset, sorted as strata sorts members)
    "SADD s 1 2 3", "SMEMBERS s", "SMEMBERS nokey", "SINTER s", "SINTER s nokey",
    "SUNION s nokey", "SDIFF s", "SDIFF nokey s", "SISMEMBER s 1", "SMISMEMBER s 1 nope",
    "SMISMEMBER nokey a", "SINTERCARD 2 s nokey", "SINTERCARD 1 s LIMIT 2", "SRANDMEMBER s 5",
    "SRANDMEMBER nokey 2", "SRANDMEMBER nokey", "SSCAN s 0 MATCH nomatch*", "SCARD s",
    "SINTERSTORE d s", "SMOVE s s2 1", "SPOP s 5", "SADD s 4", "SPOP s 1",
    # sorted sets
    "ZADD z 1 a 2.5 b inf c -inf d", "ZADD z INCR 1 a", "ZADD z NX INCR 1 a",
    "ZADD nz XX INCR 1 a", "ZADD z CH GT 10 a", "ZINCRBY z 0.25 b", "ZSCORE z a",
    "ZSCORE z nope", "ZSCORE nokey a", "ZMSCORE z a nope c d", "ZMSCORE nokey a",
    "ZRANGE z 0 -1", "ZRANGE z 0 -1 WITHSCORES", "ZRANGE z 0 -1 REV WITHSCORES",
    "ZRANGE z (1 +inf BYSCORE LIMIT 0 2 WITHSCORES", "ZRANGE nokey 0 -1 WITHSCORES",
    "ZRANGEBYSCORE z -inf +inf WITHSCORES", "ZREVRANGEBYSCORE z +inf -inf WITHSCORES LIMIT 1 2",
    "ZREVRANGE z 0 1 WITHSCORES", "ZRANGEBYLEX z - +", "ZRANDMEMBER z 4 WITHSCORES",
    "ZRANDMEMBER z 9 WITHSCORES", "ZRANDMEMBER nokey 3 WITHSCORES", "ZRANDMEMBER nokey",
    "ZADD z2 3 a 4 e", "ZUNION 2 z z2 WITHSCORES", "ZUNION 2 z z2 WEIGHTS 1 2 AGGREGATE MAX",
    "ZINTER 2 z z2 WITHSCORES", "ZDIFF 2 z z2 WITHSCORES", "ZDIFF 2 nokey z2 WITHSCORES",
    "ZINTERCARD 2 z z2", "ZUNIONSTORE d2 2 z z2", "ZRANGESTORE d3 z 0 1",
    "ZADD zs 1 a 2.5 b", "ZSCAN zs 0",  # (strata scans in member order, Redis in score order)
    "ZRANK z a", "ZREVRANK z nope", "ZCOUNT z -inf +inf", "ZLEXCOUNT z - +", "ZCARD z",
    "ZADD w 0.1 a 1e-300 b 123456789012345678 c 3.0000000000000004 d", "ZRANGE w 0 -1 WITHSCORES",
    "ZINCRBY w 1e308 a", "ZINCRBY w 1e308 a", "ZADD y INCR inf a", "ZINCRBY y -inf a",
    # lists
    "RPUSH l a b c a", "LPOS l a", "LPOS l a COUNT 0", "LPOS l nope", "LPOS l nope COUNT 2",
    "LPOS nokey a", "LRANGE l 0 -1", "LINDEX l 9", "LMOVE nokey x LEFT LEFT",
    "RPOPLPUSH nokey x", "LMPOP 1 l RIGHT COUNT 2", "LINSERT l BEFORE nope x",
    # strings and keys
    "SET k v", "GET nokey", "SET k w GET", "SET nokey2 v NX GET", "GETDEL nokey", "GETEX nokey",
    "GETSET nokey3 v", "MGET k nokey", "SET f 1.5", "INCRBYFLOAT f 1", "INCRBYFLOAT f 1e400",
    "COPY k k2", "COPY k k2", "COPY nokey k2", "TYPE z", "EXISTS k nokey", "DBSIZE",
    "KEYS nokey3*", "RENAME nokey x", "DEL k k2",
]


@pytest.mark.parametrize("proto", [3, 2])
def test_data_type_reply_table(pair, proto):
    same_on_both(pair, [proto], calls(0, *TABLE))


def test_hello_2_after_hello_3_goes_back(pair):
    steps = calls(0, "HSET h a 1", "ZADD z 1 a", "HGETALL h", "ZSCORE z a")
    steps.append(("do", 0, [b"HELLO", b"2"]))  # its reply holds the client id
    steps += calls(0, "HGETALL h", "ZSCORE z a", "ZRANGE z 0 -1 WITHSCORES")
    got = [raw for _, raw in same_on_both(pair, [3], steps)]
    assert got[2] == b"%1\r\n$1\r\na\r\n$1\r\n1\r\n" and got[3] == b",1\r\n"
    assert got[4] == b"*2\r\n$1\r\na\r\n$1\r\n1\r\n" and got[5] == b"$1\r\n1\r\n"
    assert got[6] == b"*2\r\n$1\r\na\r\n$1\r\n1\r\n"
