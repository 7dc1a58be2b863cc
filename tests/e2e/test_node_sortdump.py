"""SORT, DUMP/RESTORE and RDB import on strata-node, against redis-server 7.0.

- SORT / SORT_RO: a seeded differential family (lists, sets and sorted
  sets of numbers and words, weight strings and hash fields for BY and
  GET, LIMIT, ASC/DESC, ALPHA, STORE) in RESP2 and RESP3, plus exact
  checks of the edge cases and errors.
- DUMP/RESTORE both ways: every type in its small and its large Redis
  encoding, dumped by one server and restored on the other, compared
  element by element (and TTL); RESTORE's options and errors.
- strata-load --rdb: an RDB file saved by redis-server (every type and
  encoding, TTLs, LZF-compressed strings) loaded into a node's directory
  and compared key by key with the source.

Seeds are printed; STRATA_SEED=N replays a run, STRATA_DIFF_COUNT scales it.
"""
import os
import subprocess
import time

import redis

from difftest import BASE_SEED, Cmd, Error, generator, n, run_diff
from harness import binary

# ---------------------------------------------------------------------------
# SORT differential family

# Elements: numbers in several spellings, words, and strings strtod takes
# only partly (errors on both sides alike).
ELEMS = [b"1", b"2", b"10", b"-3", b"3.5", b"0", b"007", b"1e2", b"a", b"b", b"B", b"", b"x y",
         b" 7", b"0x10", b"inf", b"-inf", b"nan", b"\xc3\xa9", b"z" * 40]
NUMS = ELEMS[:8]
SKEYS = [b"sl", b"ss", b"sz", b"sn"]   # list, set, zset, a key of any type
# Prefix of every key and pattern; "{t}" when the run goes through
# strata-proxy, so all of them share the sorted key's slot.
TAG = [b""]


def T(name):
    return TAG[0] + name
WEIGHTS = [b"5", b"-1", b"2.5", b"100", b"0", b"abc", b"", b"1e1"]


def elem(ctx, numeric_bias=0.6):
    return ctx.r.choice(NUMS if ctx.r.random() < numeric_bias else ELEMS)


@generator("sort", 3.0)
def gen_sort_data(ctx):
    # sl stays a list, ss a set, sz a sorted set; sn holds any of them
    x = ctx.r.random()
    base = ctx.r.choice(SKEYS)
    if base != b"sn" and x < 0.7:
        x = {b"sl": 0.1, b"ss": 0.4, b"sz": 0.6}[base]
    k = T(base)
    if x < 0.3:
        return Cmd([b"RPUSH", k] + [elem(ctx) for _ in range(ctx.r.randint(1, 6))], keys=[k], write=True)
    if x < 0.5:
        return Cmd([b"SADD", k] + [elem(ctx) for _ in range(ctx.r.randint(1, 6))], keys=[k], write=True)
    if x < 0.7:
        args = [b"ZADD", k]
        for _ in range(ctx.r.randint(1, 5)):
            args += [str(ctx.r.choice([1, 2, 2, 3, -1.5, 10])).encode(), elem(ctx)]
        return Cmd(args, keys=[k], write=True)
    if x < 0.85:
        w = T(b"w_") + elem(ctx)
        return Cmd([b"SET", w, ctx.r.choice(WEIGHTS)], keys=[w], write=True)
    if x < 0.95:
        h = T(b"h_") + elem(ctx)
        return Cmd([b"HSET", h, ctx.r.choice([b"f", b"g"]), ctx.r.choice(WEIGHTS)], keys=[h], write=True)
    return Cmd([b"DEL", k], keys=[k], write=True)


def check_sort(differ, cmd, a, b):
    """Exact, except where Redis's own order is unspecified: a set in no
    order, and ALPHA by weights that tie (compare as multisets then)."""
    if a == b:
        return None
    if isinstance(a, list) and isinstance(b, list) and sorted(a, key=repr) == sorted(b, key=repr):
        return None
    return "replies differ"


def unspecified_order(args, key):
    """ALPHA by weights: ties (equal or missing weights) come in Redis's
    qsort order of its hash-table walk."""
    up = [x.upper() for x in args]
    by = [args[i + 1] for i, x in enumerate(up[:-1]) if x == b"BY"]
    nosort = any(b"*" not in p for p in by)   # one BY without '*' is enough, as in Redis
    return bool(by) and not nosort and b"ALPHA" in up


def is_nosort(args):
    up = [x.upper() for x in args]
    by = [args[i + 1] for i, x in enumerate(up[:-1]) if x == b"BY"]
    return any(b"*" not in p for p in by) and b"STORE" not in up


def check_nosort(differ, cmd, a, b):
    """BY nosort: a set comes in its hash-table order in Redis (a
    multiset check, and only the size under LIMIT); lists and sorted sets
    in their own order, exactly."""
    if a == b:
        return None
    if differ.b.call(b"TYPE", cmd.args[1]) != "set":
        return "replies differ"
    up = [x.upper() for x in cmd.args]
    if b"LIMIT" in up:
        return check_sort_len(differ, cmd, a, b)
    return check_sort(differ, cmd, a, b)


@generator("sort", 2.0)
def gen_sort(ctx):
    base = ctx.r.choice(SKEYS + [b"missing", b"w_1"])
    k = T(base)
    ro = ctx.r.random() < 0.2
    args = [b"SORT_RO" if ro else b"SORT", k]
    keys = [k]
    opts = []
    r = ctx.r.random
    if r() < 0.5:
        by = ctx.r.choice([b"w_*", b"h_*->f", b"nosort", b"w_*->", b"*", b"h_*->g"])
        opts.append([b"BY", by if by == b"nosort" else T(by)])
    if r() < 0.35:
        opts.append([b"LIMIT", str(ctx.r.choice([0, 1, 2, -1, 5, 100])).encode(),
                     str(ctx.r.choice([0, 1, 3, -1, -5, 10])).encode()])
    for _ in range(ctx.r.choice([0, 0, 1, 2])):
        get = ctx.r.choice([b"#", b"w_*", b"h_*->f", b"nostar", b"h_*->"])
        opts.append([b"GET", get if get == b"#" else T(get)])
    if r() < 0.4:
        opts.append([ctx.r.choice([b"ASC", b"DESC", b"desc"])])
    if r() < 0.4:
        opts.append([ctx.r.choice([b"ALPHA", b"alpha"])])
    if not ro and r() < 0.25:
        dst = T(ctx.r.choice([b"dst", b"sl"]))
        opts.append([b"STORE", dst])
        keys.append(dst)
    if r() < 0.03:
        # (a bare STORE may take the next word as its key: through the
        # proxy, as in Redis Cluster, that key is in another slot)
        opts.append([ctx.r.choice([b"LIMIT", b"BY", b"bogus"] + ([] if TAG[0] else [b"STORE"]))])
    ctx.r.shuffle(opts)
    flat = [x for o in opts for x in o]
    check = None
    if unspecified_order(args + flat, k):
        # ties in an unspecified order: nothing stored or fetched (GET
        # could put nulls in different places), and a LIMIT window only
        # checked for its size
        opts = [o for o in opts if o[0] not in (b"STORE", b"GET")]
        keys = [k]
        flat = [x for o in opts for x in o]
        check = check_sort_len if b"LIMIT" in flat else check_sort
    elif is_nosort(args + flat):
        check = check_nosort
        if base in (b"ss", b"sn"):   # maybe a set: no GET (nulls would move)
            opts = [o for o in opts if o[0] != b"GET"]
            flat = [x for o in opts for x in o]
    return Cmd(args + flat, keys=keys, write=not ro, check=check)


def check_sort_len(differ, cmd, a, b):
    if a == b:
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return None
    return "replies differ"


@generator("sort", 0.5)
def gen_sort_read(ctx):
    k = T(ctx.r.choice([b"dst", b"sl"]))
    return Cmd([b"LRANGE", k, b"0", b"-1"], keys=[k])


def test_sort_diff(pair):
    node, ref = pair
    assert run_diff(node, ref, BASE_SEED, n(3000), families=["sort"])[1] == n(3000)


def test_sort_diff_resp3(pair):
    node, ref = pair
    assert run_diff(node, ref, BASE_SEED + 1, n(2000), families=["sort"], proto=3)[1] == n(2000)


def test_sort_diff_through_proxy(cluster):
    """The same family through strata-proxy in front of two strata-nodes,
    every key and pattern under one hash tag."""
    proxy, _, _ = proxy_nodes(cluster)
    ref = cluster.redis()
    TAG[0] = b"{t}"
    try:
        assert run_diff(proxy, ref, BASE_SEED + 2, n(1500), families=["sort"])[1] == n(1500)
    finally:
        TAG[0] = b""


def proxy_nodes(cluster):
    from proxy_util import even_ranges, topology_text, write_file
    nodes = [cluster.node(name=f"node{i}") for i in range(2)]
    ranges = even_ranges(2)
    text = topology_text([(f"g{i + 1}", f"{lo}-{hi}", [f"127.0.0.1:{nd.port}"])
                          for i, ((lo, hi), nd) in enumerate(zip(ranges, nodes))], proxy={"timeout_ms": 2000})
    return cluster.proxy(write_file(cluster, "topology.yaml", text)), nodes, ranges


def both(pair, *cmds):
    """Run each command on both servers; return the list of (strata, redis)."""
    out = []
    conns = [redis.Redis(port=p.port) for p in pair]
    for cmd in cmds:
        res = []
        for c in conns:
            try:
                res.append(c.execute_command(*cmd))
            except redis.ResponseError as e:
                res.append(Error(str(e).encode()))
        out.append(tuple(res))
    return out


def test_sort_exact(pair):
    setup = [("RPUSH", "l", 3, 1, 2, 10, "1.5"), ("MSET", "w_3", 5, "w_1", 9, "w_2", 1, "w_10", 0),
             ("HSET", "h_1", "f", "x"), ("SADD", "s", "b", "a", "c"), ("ZADD", "z", 3, "c", 1, "a", 2, "b"),
             ("RPUSH", "bad", "a", "1"), ("SET", "str", "v"), ("SET", "dst", "old")]
    both(pair, *setup)
    cmds = [("SORT", "l"), ("SORT", "l", "DESC"), ("SORT", "l", "BY", "w_*", "GET", "#", "GET", "h_*->f"),
            ("SORT", "l", "ALPHA", "LIMIT", "1", "2"), ("SORT", "l", "BY", "nosort", "DESC", "LIMIT", "1", "2"),
            ("SORT", "z", "BY", "nosort", "DESC"), ("SORT", "z", "BY", "nosort", "LIMIT", "1", "1"),
            ("SORT", "s", "ALPHA", "STORE", "dst"), ("LRANGE", "dst", 0, -1), ("SORT", "s", "BY", "x", "STORE", "d2"),
            ("LRANGE", "d2", 0, -1), ("SORT", "missing", "STORE", "dst"), ("EXISTS", "dst"),
            ("SORT", "bad"), ("SORT", "str"), ("SORT_RO", "l", "STORE", "x"), ("SORT", "l", "LIMIT", "a", "b"),
            ("SORT", "l", "LIMIT", "1"), ("SORT", "l", "GET"), ("SORT", "l", "BY"), ("SORT", "l", "foo"),
            ("SORT", "l", "GET", "nostar"), ("SORT", "l", "LIMIT", "-5", "-7"),
            ("SORT", "l", "LIMIT", "9223372036854775807", "9223372036854775807"),
            ("SORT", "bad", "BY", "nosort"), ("SORT", "bad", "BY", "w_*")]
    for cmd, (a, b) in zip(cmds, both(pair, *cmds)):
        assert a == b, (cmd, a, b)


# ---------------------------------------------------------------------------
# DUMP / RESTORE

def fill(r):
    """Every type in its small and large Redis 7.0 encoding."""
    r.flushall()
    r.set("str_int", "12345")
    r.set("str_neg", "-7")
    r.set("str_big_int", "123456789012345")
    r.set("str_emb", "hello")
    r.set("str_raw", "x" * 100)
    r.set("str_lzf", "ab" * 5000)          # compressible: Redis dumps it LZF-compressed
    r.set("str_bin", bytes(range(256)))
    r.set("str_empty", "")
    r.rpush("list_small", 1, "two", 3, "-100000", "")
    r.rpush("list_big", *[("e%d" % i) * 10 for i in range(3000)])      # several quicklist nodes
    r.rpush("list_huge_elem", "y" * 20000, "z")                          # a plain quicklist node
    r.sadd("set_intset", 1, 2, 3, -100000, 2 ** 40)
    r.sadd("set_hash", "a", "b", "1")
    r.sadd("set_big_int", *range(1000))
    r.hset("hash_lp", mapping={"f": "v", "n": 12, "neg": -5})
    r.hset("hash_ht", mapping={("f%d" % i): "v" * i for i in range(300)})
    r.zadd("zset_lp", {"a": 1, "b": 2.5, "c": -3, "d": float("inf"), "e": 0, "f": 1e300})
    r.zadd("zset_sl", {("m%d" % i): i / 3 for i in range(500)})
    r.set("with_ttl", "v", px=100000)
    r.hset("hash_ttl", "a", "b")
    r.pexpire("hash_ttl", 200000)


def content(r, k):
    t = r.type(k)
    if t == b"string":
        return t, r.get(k)
    if t == b"list":
        return t, r.lrange(k, 0, -1)
    if t == b"set":
        return t, sorted(r.smembers(k))
    if t == b"hash":
        return t, sorted(r.hgetall(k).items())
    if t == b"zset":
        return t, r.zrange(k, 0, -1, withscores=True)
    return t, None


def test_dump_restore_both_ways(pair):
    node, ref = pair
    s, rs = redis.Redis(port=node.port), redis.Redis(port=ref.port)
    for src, dst, name in ((rs, s, "redis -> strata"), (s, rs, "strata -> redis")):
        fill(src)
        dst.flushall()
        keys = sorted(src.keys())
        assert len(keys) == 20
        for k in keys:
            payload = src.dump(k)
            pttl = src.pttl(k)
            dst.restore(k, max(pttl, 0), payload)
            assert content(dst, k) == content(src, k), (name, k)
            if pttl > 0:
                assert abs(dst.pttl(k) - pttl) < 5000, (name, k)
            else:
                assert dst.pttl(k) == -1, (name, k)
            # the same payload again: BUSYKEY, then REPLACE works
            try:
                dst.restore(k, 0, payload)
                raise AssertionError("no BUSYKEY")
            except redis.ResponseError as e:
                assert str(e) == "BUSYKEY Target key name already exists."
            dst.restore(k, 0, payload, replace=True)
            assert content(dst, k) == content(src, k), (name, k)
    # Redis keeps its compact encodings for what Strata dumped
    enc = {k: rs.object("encoding", k) for k in ("list_small", "set_intset", "hash_lp", "zset_lp",
                                                  "hash_ht", "zset_sl", "set_big_int")}
    assert enc == {"list_small": b"quicklist", "set_intset": b"intset", "hash_lp": b"listpack",
                   "zset_lp": b"listpack", "hash_ht": b"hashtable", "zset_sl": b"skiplist",
                   "set_big_int": b"hashtable"}, enc


def test_dump_restore_options(pair):
    node, ref = pair
    for r in (redis.Redis(port=node.port), redis.Redis(port=ref.port)):
        r.flushall()
        r.rpush("l", "a", "b")
        p = r.dump("l")
        assert r.dump("missing") is None
        now = int(time.time() * 1000)
        assert r.restore("abs", now + 100000, p, absttl=True)
        assert abs(r.pexpiretime("abs") - (now + 100000)) <= 1
        assert r.restore("idle", 0, p, idletime=10)
        assert r.restore("freq", 0, p, frequency=5)
        # a TTL in the past: nothing is created; with REPLACE the old key goes
        assert r.restore("past", 1, p, absttl=True)
        assert r.exists("past") == 0
        r.set("old", "v")
        assert r.restore("old", 1, p, absttl=True, replace=True)
        assert r.exists("old") == 0
        r.set("s", "v")
        assert r.restore("s", 0, p, replace=True)
        assert r.lrange("s", 0, -1) == [b"a", b"b"]


def test_restore_errors(pair):
    node, ref = pair
    both(pair, ("SET", "k", "v"), ("RPUSH", "l", "a"))
    p = redis.Redis(port=ref.port).dump("l")
    sp = redis.Redis(port=node.port).dump("l")
    bad_crc = p[:-1] + bytes([p[-1] ^ 1])
    bad_ver = p[:-10] + b"\x0b\x00" + p[-8:]
    cmds = [("RESTORE", "k", 0, p), ("RESTORE", "n", -1, p), ("RESTORE", "n", "x", p),
            ("RESTORE", "n", 0, "junk"), ("RESTORE", "n", 0, bad_crc), ("RESTORE", "n", 0, bad_ver),
            ("RESTORE", "n", 0, p, "IDLETIME", -1), ("RESTORE", "n", 0, p, "FREQ", 256),
            ("RESTORE", "n", 0, p, "FREQ", "x"), ("RESTORE", "n", 0, p, "IDLETIME", 1, "FREQ", 1),
            ("RESTORE", "n", 0, p, "FREQ", 1, "IDLETIME", 1), ("RESTORE", "n", 0, p, "bogus"),
            ("RESTORE", "n", 0, p, "IDLETIME"), ("RESTORE", "k", -1, "junk"), ("RESTORE", "n"),
            ("DUMP",), ("DUMP", "a", "b"), ("RESTORE", "n2", 0, sp), ("LRANGE", "n2", 0, -1)]
    for cmd, (a, b) in zip(cmds, both(pair, *cmds)):
        assert a == b, (cmd, a, b)
    # a valid footer around a malformed value: "Bad data format" on both
    # (empty collections, truncated elements, unknown types, bad intsets)
    for body in (b"\x01\x02\x01a", b"\x63abc", b"\x02\x00", b"\x0b\x03abc", b"\x04\x01\x01a",
                 b"\x12\x01\x02\x03abc",
                 # duplicate members of the plain encodings
                 b"\x02\x02\x01a\x01a", b"\x05\x02\x01a" + bytes(8) + b"\x01a" + bytes(8)):
        payload = with_footer(body)
        for a, b in both(pair, ("RESTORE", "bad", 0, payload)):
            assert a == b == Error(b"Bad data format"), (body, a, b)
    # A small hash naming a field twice: Redis 7.0 (without
    # sanitize-dump-payload) keeps a listpack with the field twice; Strata
    # refuses it, it cannot hold such a hash
    dup = with_footer(b"\x04\x02\x01a\x01b\x01a\x01c")
    assert both(pair, ("RESTORE", "duph", 0, dup))[0][0] == Error(b"Bad data format")
    # Redis reads a value from the whole payload: one running into the
    # footer is taken as it comes, by both
    for a, b in both(pair, ("RESTORE", "odd", 0, with_footer(b"\x00\x05ab")), ("STRLEN", "odd")):
        assert a == b, (a, b)


def crc64(data):
    """Redis's CRC-64 (Jones, reflected), bit by bit."""
    poly = 0x95AC9329AC4BC9B5
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
    return crc


def with_footer(body):
    data = body + b"\x0a\x00"
    return data + crc64(data).to_bytes(8, "little")


def test_crc64_reference():
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA


# ---------------------------------------------------------------------------
# strata-load --rdb

def test_rdb_import(cluster):
    ref = cluster.redis(args=["--enable-debug-command", "yes"])
    rs = redis.Redis(port=ref.port)
    fill(rs)
    rs.set("far_ttl", "v")
    rs.pexpireat("far_ttl", int(time.time() * 1000) + 3_600_000)
    # a key that expired but is still in the file: not imported
    rs.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    rs.set("gone", "v", px=1)
    time.sleep(0.05)
    rs.save()
    assert "gone" not in [k.decode() for k in rs.keys()]
    rdb = os.path.join(ref.dir, "dump.rdb")
    assert os.path.exists(rdb)
    data = cluster.path("node", "data")
    out = subprocess.run([binary("strata-load"), "--dir", data, "--rdb", rdb], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "21 keys loaded" in out.stdout and "(1 already expired" in out.stdout, out.stdout
    node = cluster.node()
    s = redis.Redis(port=node.port)
    keys = sorted(rs.keys())
    assert sorted(s.keys()) == keys
    for k in keys:
        assert content(s, k) == content(rs, k), k
        assert s.pexpiretime(k) == rs.pexpiretime(k), k
    # the node works on the imported data, and a second import is refused
    assert s.rpush("list_small", "more") == 6
    node.stop()
    out = subprocess.run([binary("strata-load"), "--dir", data, "--rdb", rdb], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode != 0 and "not empty" in out.stderr


def test_rdb_import_rejects_garbage(cluster):
    bad = cluster.path("bad.rdb")
    with open(bad, "wb") as f:
        f.write(b"REDIS0010\xfe\x00\x00\x03key\xc5")
    data = cluster.path("node", "data")
    out = subprocess.run([binary("strata-load"), "--dir", data, "--rdb", bad], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 1 and "key 'key'" in out.stderr, out.stderr
    assert not os.path.exists(os.path.join(data, "CURRENT"))


# ---------------------------------------------------------------------------
# SORT through strata-proxy: Redis Cluster's rule for BY and GET patterns

def test_proxy_sort_cluster_rule(cluster):
    from proxy_util import ProxySetup, group_of, keys_for_group
    setup = ProxySetup(cluster, 2)
    c = setup.client()
    c.rpush("{t}l", 3, 1, 2)
    c.mset({"{t}w_1": 30, "{t}w_2": 20, "{t}w_3": 10})
    c.hset("{t}h_1", "f", "one")
    assert c.sort("{t}l") == [b"1", b"2", b"3"]
    assert c.execute_command("SORT", "{t}l", "BY", "{t}w_*", "GET", "#", "GET", "{t}h_*->f") == \
        [b"3", None, b"2", None, b"1", b"one"]
    assert c.execute_command("SORT", "{t}l", "BY", "nosort") == [b"3", b"1", b"2"]
    by_err = "BY option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots."
    get_err = "GET option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots."
    for cmd, err in ((("SORT", "{t}l", "BY", "w_*"), by_err), (("SORT_RO", "{t}l", "BY", "*{t}"), by_err),
                     (("SORT", "{t}l", "GET", "w_*"), get_err), (("SORT", "{t}l", "GET", "{u}w_*"), get_err),
                     (("SORT", "{t}l", "GET", "fixed"), get_err),
                     (("SORT", "{t}l", "LIMIT", "a", "b", "BY", "w_*"), "value is not an integer or out of range"),
                     (("SORT", "{t}l", "bogus", "BY", "w_*"), "syntax error")):
        try:
            c.execute_command(*cmd)
            raise AssertionError(f"{cmd} was accepted")
        except redis.ResponseError as e:
            assert str(e) == err, (cmd, str(e))
    # STORE: the destination is a key of the command (CROSSSLOT across groups)
    assert c.execute_command("SORT", "{t}l", "STORE", "{t}dst") == 3
    assert c.lrange("{t}dst", 0, -1) == [b"1", b"2", b"3"]
    g = group_of(b"{t}l", setup.ranges)
    other = keys_for_group(setup.ranges, 1 - g, 1, prefix="dst")[0]
    try:
        c.execute_command("SORT", "{t}l", "STORE", other)
        raise AssertionError("STORE in another group accepted")
    except redis.ResponseError as e:
        assert str(e).startswith("CROSSSLOT"), str(e)


def test_notifications(pair):
    """Keyspace events of RESTORE and SORT ... STORE, in Redis's order."""
    seqs = []
    for p in pair:
        r = redis.Redis(port=p.port)
        r.flushall()
        r.config_set("notify-keyspace-events", "KEA")
        r.rpush("l", "b", "a")
        payload = r.dump("l")
        r.set("s", "v")
        ps = r.pubsub()
        ps.psubscribe("__keyevent@0__:*")
        ps.get_message(timeout=1)
        r.restore("n", 0, payload)
        r.restore("s", 0, payload, replace=True)
        r.restore("s", 1, payload, replace=True, absttl=True)
        r.restore("t", 5000, payload)
        r.sort("l", store="dst", alpha=True)
        r.sort("missing", store="dst")
        r.sort("missing", store="dst")
        r.set("end", "1")   # the last event
        out = []
        deadline = time.time() + 5
        while time.time() < deadline and (not out or out[-1] != (b"__keyevent@0__:set", b"end")):
            m = ps.get_message(timeout=0.2)
            if m and m["type"] == "pmessage":
                out.append((m["channel"], m["data"]))
        ps.close()
        seqs.append(out)
    assert seqs[0] == seqs[1], seqs


def test_rdb_import_by_group(cluster):
    """--config/--group (and --slots) keep one group's share of the keys."""
    from proxy_util import even_ranges, group_of, topology_text, write_file
    ref = cluster.redis()
    rs = redis.Redis(port=ref.port)
    fill(rs)
    for i in range(200):
        rs.set(f"k{i}", i)
    rs.save()
    rdb = os.path.join(ref.dir, "dump.rdb")
    ranges = even_ranges(2)
    topo = write_file(cluster, "topology.yaml", topology_text(
        [(f"g{i + 1}", f"{lo}-{hi}", [f"127.0.0.1:{7100 + i}"]) for i, (lo, hi) in enumerate(ranges)]))
    got = []
    for g in range(2):
        d = cluster.path(f"n{g}", "data")
        args = ["--config", topo, "--group", f"g{g + 1}"] if g == 0 else \
            ["--slots", f"{ranges[1][0]}-{ranges[1][1]}"]
        out = subprocess.run([binary("strata-load"), "--dir", d, "--rdb", rdb] + args, capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        node = cluster.node(name=f"n{g}")
        keys = redis.Redis(port=node.port).keys()
        assert keys and all(group_of(k, ranges) == g for k in keys)
        got += keys
    assert sorted(got) == sorted(rs.keys())
    out = subprocess.run([binary("strata-load"), "--dir", cluster.path("x", "data"), "--rdb", rdb,
                          "--config", topo, "--group", "nope"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "no group 'nope'" in out.stderr


def test_dump_bytes_match_redis(pair):
    """Small values in their compact forms: Strata's DUMP is Redis's, byte
    for byte, where the element order agrees (Redis keeps a listpack in
    insertion order, Strata walks members in byte order)."""
    # (blobs of at most 20 bytes: Redis would LZF-compress longer ones)
    cmds = [("SET", "s_int", "123"), ("SET", "s_str", "hello"), ("SET", "s_neg", "-70000"),
            ("RPUSH", "l", "a", "1000", "-1"), ("RPUSH", "l2", "-5000", "7"),
            ("HSET", "h", "f", "v"), ("HSET", "h2", "a", "1", "b", ""),
            ("ZADD", "z", "1", "a", "2", "b"), ("ZADD", "z2", "2.5", "c"),
            ("SADD", "si", "3", "1", "2", "-7"), ("SADD", "si64", "10000000000"),
            ("SADD", "si32", "100000", "-1")]
    both(pair, *cmds)
    keys = ["s_int", "s_str", "s_neg", "l", "l2", "h", "h2", "z", "z2", "si", "si64", "si32"]
    for k, (a, b) in zip(keys, both(pair, *[("DUMP", k) for k in keys])):
        assert a == b, (k, a, b)
