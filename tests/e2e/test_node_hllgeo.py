"""HyperLogLog and geo commands on strata-node against redis-server:
seeded differential runs in RESP2 and RESP3 (diff_hllgeo.py), values
moved between the two servers with GET/SET and ZADD, and the walk of one
HyperLogLog from sparse to dense with its bytes compared at every step.

Seeds are printed; STRATA_SEED=N replays a run, STRATA_DIFF_COUNT scales it.
"""
import random

import pytest

import diff_hllgeo  # noqa: F401  (registers the "hll" and "geo" generators)
from difftest import BASE_SEED, RespConn, n, run_diff


@pytest.mark.parametrize("proto", [2, 3])
def test_hll_diff(pair, proto):
    node, ref = pair
    assert run_diff(node, ref, BASE_SEED + proto, n(1500), families=["hll"], proto=proto)[1] == n(1500)


@pytest.mark.parametrize("proto", [2, 3])
def test_geo_diff(pair, proto):
    node, ref = pair
    assert run_diff(node, ref, BASE_SEED + 10 + proto, n(3000), families=["geo"], proto=proto)[1] == n(3000)


def test_hll_sparse_to_dense_bytes(pair):
    """One element at a time up to well past the conversion: the bytes
    (encoding, opcodes, stale cached count) and the counts match at
    every step; counting refreshes the cache identically."""
    node, ref = pair
    a, b = RespConn("127.0.0.1", node.port), RespConn("127.0.0.1", ref.port)
    rnd = random.Random(BASE_SEED)
    dense_seen = False
    for i in range(2500):
        e = b"el%d" % rnd.randrange(10**9)
        assert a.call(b"PFADD", b"h", e) == b.call(b"PFADD", b"h", e)
        if i % 7 == 0 or i > 2000:
            assert a.call(b"PFCOUNT", b"h") == b.call(b"PFCOUNT", b"h")
        va, vb = a.call(b"GET", b"h"), b.call(b"GET", b"h")
        assert va == vb, f"after {i + 1} elements"
        dense_seen = dense_seen or va[4] == 0
    assert dense_seen
    # A union of a sparse and a dense value, and a merge into a sparse one.
    for c in (a, b):
        c.call(b"PFADD", b"s", b"x", b"y", b"z")
        c.call(b"PFADD", b"s2", *[b"q%d" % i for i in range(40)])
    assert a.call(b"PFCOUNT", b"h", b"s", b"s2") == b.call(b"PFCOUNT", b"h", b"s", b"s2")
    assert a.call(b"PFMERGE", b"s", b"s2") == b.call(b"PFMERGE", b"s", b"s2") == "OK"
    assert a.call(b"GET", b"s") == b.call(b"GET", b"s")
    assert a.call(b"PFMERGE", b"m", b"s", b"h") == b.call(b"PFMERGE", b"m", b"s", b"h")
    assert a.call(b"GET", b"m") == b.call(b"GET", b"m")
    a.close()
    b.close()


def test_hll_values_move_between_servers(pair):
    """A value made by redis-server counts the same on strata-node after
    SET, and grows into the same bytes; the reverse too."""
    node, ref = pair
    a, b = RespConn("127.0.0.1", node.port), RespConn("127.0.0.1", ref.port)
    rnd = random.Random(BASE_SEED + 5)
    for size in (3, 300, 5000):
        for src, dst in ((b, a), (a, b)):
            src.call(b"DEL", b"v")
            elems = [b"%d" % rnd.randrange(10**12) for _ in range(size)]
            for i in range(0, len(elems), 500):
                src.call(b"PFADD", b"v", *elems[i:i + 500])
            value = src.call(b"GET", b"v")
            assert dst.call(b"SET", b"v", value) == "OK"
            assert dst.call(b"PFCOUNT", b"v") == src.call(b"PFCOUNT", b"v")
            more = [b"m%d" % rnd.randrange(10**6) for _ in range(50)]
            assert dst.call(b"PFADD", b"v", *more) == src.call(b"PFADD", b"v", *more)
            assert dst.call(b"GET", b"v") == src.call(b"GET", b"v")
            assert dst.call(b"PFCOUNT", b"v") == src.call(b"PFCOUNT", b"v")
    a.close()
    b.close()


def test_geo_values_move_between_servers(pair):
    """Scores written by redis-server's GEOADD are the scores strata-node
    computes, and its reads decode them the same way."""
    node, ref = pair
    a, b = RespConn("127.0.0.1", node.port), RespConn("127.0.0.1", ref.port)
    rnd = random.Random(BASE_SEED + 6)
    args = []
    for i in range(300):
        args += [b"%.7f" % rnd.uniform(-180, 180), b"%.7f" % rnd.uniform(-85.05, 85.05), b"p%d" % i]
    assert a.call(b"GEOADD", b"g", *args) == b.call(b"GEOADD", b"g", *args) == 300
    za = a.call(b"ZRANGE", b"g", 0, -1, b"WITHSCORES")
    zb = b.call(b"ZRANGE", b"g", 0, -1, b"WITHSCORES")
    assert za == zb
    flat = [x for m, s in zip(zb[::2], zb[1::2]) for x in (s, m)]
    a.call(b"ZADD", b"g2", *flat)
    members = [b"p%d" % i for i in range(0, 300, 7)]
    assert a.call(b"GEOPOS", b"g2", *members) == b.call(b"GEOPOS", b"g", *members)
    assert a.call(b"GEOHASH", b"g2", *members) == b.call(b"GEOHASH", b"g", *members)
    q = [b"FROMLONLAT", b"10", b"20", b"BYRADIUS", b"3000", b"km", b"ASC", b"WITHDIST", b"WITHHASH"]
    assert a.call(b"GEOSEARCH", b"g2", *q) == b.call(b"GEOSEARCH", b"g", *q)
    a.close()
    b.close()


def first_difference(x, y):
    """Where two replies first differ (a short text)."""
    if isinstance(x, list) and isinstance(y, list):
        for i, (p, q) in enumerate(zip(x, y)):
            if p != q:
                return f"[{i}]: " + first_difference(p, q)
        return f"lengths {len(x)} and {len(y)}"
    return f"strata {x!r:.300}, redis {y!r:.300}"


def both(a, b, *args):
    ra, rb = a.call(*args), b.call(*args)
    assert ra == rb, f"{args!r}: " + first_difference(ra, rb)
    return ra


def geo_points(rnd, n):
    """Points over the globe, clusters (so small searches find several),
    and the edges: the latitude limit, the antimeridian, the equator."""
    pts = []
    for i in range(n):
        x = rnd.random()
        if x < 0.4:
            lon, lat = rnd.uniform(-180, 180), rnd.uniform(-85.05112878, 85.05112878)
        elif x < 0.7:
            lon, lat = 2.35 + rnd.gauss(0, 0.3), 48.85 + rnd.gauss(0, 0.3)
        elif x < 0.8:
            lon, lat = rnd.choice([-1, 1]) * rnd.uniform(179, 180), rnd.uniform(-10, 10)
        elif x < 0.9:
            lon, lat = rnd.uniform(-180, 180), rnd.choice([-1, 1]) * rnd.uniform(80, 85.05112878)
        else:
            lon, lat = rnd.uniform(-1, 1), rnd.uniform(-1, 1)
        pts.append((b"%.8f" % lon, b"%.8f" % lat, b"p%d" % i))
    return pts


@pytest.mark.parametrize("proto", [2, 3])
def test_geo_search_battery(pair, proto):
    """Thousands of points, hundreds of searches around members and
    points (poles, antimeridian, radius 0, radii up to the whole globe,
    flat and tall boxes) with every option: the same members in the same
    order, distances, hashes and coordinates byte for byte."""
    node, ref = pair
    a = RespConn("127.0.0.1", node.port, proto=proto)
    b = RespConn("127.0.0.1", ref.port, proto=proto)
    rnd = random.Random(BASE_SEED + 20 + proto)
    pts = geo_points(rnd, 3000)
    for i in range(0, len(pts), 500):
        both(a, b, b"GEOADD", b"g", *[x for p in pts[i:i + 500] for x in p])
    centers = [(b"2.35", b"48.85"), (b"180", b"0"), (b"-180", b"0"), (b"0", b"85.05112878"),
               (b"0", b"-85.05112878"), (b"179.9", b"5"), (b"0", b"0"), (b"-73.98", b"40.75")]
    radii = [(b"0", b"m"), (b"1", b"km"), (b"10", b"km"), (b"50", b"km"), (b"500", b"mi"),
             (b"3000", b"km"), (b"20000", b"km"), (b"1e8", b"ft"), (b"12.5", b"KM")]
    nonempty = 0
    for i in range(300):
        if rnd.random() < 0.5:
            frm = [b"FROMLONLAT", *rnd.choice(centers + [(p[0], p[1]) for p in pts[:50]])]
        else:
            frm = [b"FROMMEMBER", rnd.choice(pts)[2]]
        if rnd.random() < 0.6:
            by = [b"BYRADIUS", *rnd.choice(radii)]
        else:
            w, h = rnd.choice([(b"10", b"10"), (b"100", b"1"), (b"1", b"500"), (b"4000", b"4000"),
                               (b"0", b"0"), (b"40000", b"100")])
            by = [b"BYBOX", w, h, rnd.choice([b"km", b"mi"])]
        opts = []
        if rnd.random() < 0.7:
            opts.append(rnd.choice([b"ASC", b"DESC"]))
        if rnd.random() < 0.4:
            opts += [b"COUNT", rnd.choice([1, 3, 10, 50])]
            if rnd.random() < 0.3:
                opts.append(b"ANY")
        opts += [w for w in (b"WITHCOORD", b"WITHDIST", b"WITHHASH") if rnd.random() < 0.5]
        r = both(a, b, b"GEOSEARCH", b"g", *frm, *by, *opts)
        nonempty += bool(r)
        if i % 10 == 0:
            st = [x for x in opts if x not in (b"WITHCOORD", b"WITHDIST", b"WITHHASH")]
            both(a, b, b"GEOSEARCHSTORE", b"d", b"g", *frm, *by, *st, b"STOREDIST")
            both(a, b, b"ZRANGE", b"d", 0, -1, b"WITHSCORES")
        if i % 7 == 0 and by[0] == b"BYRADIUS" and frm[0] == b"FROMLONLAT":
            both(a, b, b"GEORADIUS", b"g", frm[1], frm[2], by[1], by[2], *opts)
        if i % 7 == 1 and by[0] == b"BYRADIUS" and frm[0] == b"FROMMEMBER":
            both(a, b, b"GEORADIUSBYMEMBER_RO", b"g", frm[1], by[1], by[2], *opts)
    assert nonempty > 150
    members = [p[2] for p in rnd.sample(pts, 50)]
    both(a, b, b"GEOPOS", b"g", *members)
    both(a, b, b"GEOHASH", b"g", *members)
    for _ in range(50):
        both(a, b, b"GEODIST", b"g", rnd.choice(pts)[2], rnd.choice(pts)[2], rnd.choice([b"m", b"km", b"mi", b"ft"]))
    a.close()
    b.close()


def test_geo_count_at_equal_distances(pair):
    """Several members at one point, COUNT taking some of them: the
    partial sort picks the same ones as Redis's."""
    node, ref = pair
    a, b = RespConn("127.0.0.1", node.port), RespConn("127.0.0.1", ref.port)
    args = []
    for i in range(30):
        args += [b"10", b"10", b"same%02d" % i]
        args += [b"10.001", b"10", b"near%02d" % i]
    both(a, b, b"GEOADD", b"t", *args)
    for count in (1, 5, 29, 30, 31, 45, 59):
        for order in (b"ASC", b"DESC"):
            both(a, b, b"GEOSEARCH", b"t", b"FROMLONLAT", b"10", b"10", b"BYRADIUS", b"10", b"km",
                 order, b"COUNT", count)
    both(a, b, b"GEOSEARCH", b"t", b"FROMLONLAT", b"10", b"10", b"BYRADIUS", b"10", b"km", b"ASC")
    a.close()
    b.close()


def test_hll_sparse_max_bytes_config(pair):
    """CONFIG SET hll-sparse-max-bytes moves the sparse-to-dense switch
    as in Redis."""
    node, ref = pair
    a, b = RespConn("127.0.0.1", node.port), RespConn("127.0.0.1", ref.port)
    for limit in (b"100", b"0", b"5000"):
        both(a, b, b"CONFIG", b"SET", b"hll-sparse-max-bytes", limit)
        both(a, b, b"DEL", b"h")
        for i in range(0, 400, 20):
            both(a, b, b"PFADD", b"h", *[b"%s-%d" % (limit, j) for j in range(i, i + 20)])
            both(a, b, b"GET", b"h")
    a.close()
    b.close()


def test_hll_geo_keyspace_events(pair):
    """The events Redis publishes: pfadd (PFADD and PFMERGE), zadd for
    GEOADD, georadiusstore / geosearchstore for the stores, del when a
    store's result is empty."""
    node, ref = pair
    got = []
    for srv in (node, ref):
        c = RespConn("127.0.0.1", srv.port)
        sub = RespConn("127.0.0.1", srv.port)
        assert c.call(b"CONFIG", b"SET", b"notify-keyspace-events", b"KEA") == "OK"
        sub.call(b"PSUBSCRIBE", b"__keyevent@0__:*")
        for cmd in ([b"PFADD", b"h", b"a"], [b"PFADD", b"h", b"a"], [b"PFMERGE", b"h2", b"h"],
                    [b"PFCOUNT", b"h"], [b"GEOADD", b"g", b"1", b"2", b"m"],
                    [b"GEOADD", b"g", b"1", b"2", b"m"],
                    [b"GEORADIUS", b"g", b"1", b"2", b"10", b"km", b"STORE", b"d"],
                    [b"GEOSEARCHSTORE", b"d2", b"g", b"FROMMEMBER", b"m", b"BYRADIUS", b"1", b"m"],
                    [b"GEOSEARCHSTORE", b"d2", b"g", b"FROMLONLAT", b"50", b"50", b"BYRADIUS", b"1", b"m"],
                    [b"PING"]):
            c.call(*cmd)
        c.call(b"PUBLISH", b"__keyevent@0__:end", b"x")
        events = []
        while True:
            msg = sub.read()[1]
            if msg[2] == b"__keyevent@0__:end":
                break
            events.append((msg[2], msg[3]))
        got.append(events)
        c.close()
        sub.close()
    assert got[0] == got[1]
    assert (b"__keyevent@0__:pfadd", b"h2") in got[1]


def test_pfcount_cache_refresh_touches_watch(pair):
    """A PFCOUNT that stores a fresh estimate changes the key (EXEC of a
    transaction watching it fails, as in Redis); one that reads the cached
    estimate does not."""
    node, ref = pair
    out = []
    for srv in (node, ref):
        a, b = RespConn("127.0.0.1", srv.port), RespConn("127.0.0.1", srv.port)
        a.call(b"PFADD", b"w", b"x", b"y")
        res = []
        for _ in range(2):
            a.call(b"WATCH", b"w")
            b.call(b"PFCOUNT", b"w")
            a.call(b"MULTI")
            a.call(b"SET", b"o", b"1")
            res.append(a.call(b"EXEC"))
        out.append(res)
        a.close()
        b.close()
    assert out[0] == out[1] == [None, ["OK"]]


@pytest.mark.parametrize("proto", [2, 3])
def test_pfdebug_and_pfselftest(pair, proto):
    """PFDEBUG answers as Redis's on sparse, dense, missing and non-HLL
    keys (GETREG and TODENSE leave the value dense there too); PFSELFTEST
    passes (the node's checks are its own; Redis's reply is +OK too)."""
    node, ref = pair
    a = RespConn("127.0.0.1", node.port, proto=proto)
    b = RespConn("127.0.0.1", ref.port, proto=proto)
    rnd = random.Random(BASE_SEED + 30)
    elems = [b"%d" % rnd.randrange(10**6) for _ in range(30)]
    for c in (a, b):
        c.call(b"PFADD", b"s", *elems)
        c.call(b"PFADD", b"s2", b"a")
        c.call(b"PFADD", b"d", *[b"d%d" % i for i in range(3000)])
        c.call(b"SET", b"str", b"x")
    for sub in (b"ENCODING", b"DECODE", b"encoding", b"FOO"):
        for k in (b"s", b"d", b"none", b"str"):
            both(a, b, b"PFDEBUG", sub, k)
    both(a, b, b"PFDEBUG", b"TODENSE", b"s")
    both(a, b, b"GET", b"s")
    both(a, b, b"PFDEBUG", b"TODENSE", b"s")
    both(a, b, b"PFDEBUG", b"GETREG", b"s2")
    both(a, b, b"PFDEBUG", b"ENCODING", b"s2")
    both(a, b, b"GET", b"s2")
    both(a, b, b"PFDEBUG", b"GETREG", b"d")
    both(a, b, b"PFDEBUG", b"ENCODING", b"d", b"extra")
    assert a.call(b"PFSELFTEST") == "OK"
    a.close()
    b.close()


def test_hll_object_encoding(pair):
    """OBJECT ENCODING of a HyperLogLog is "raw" (Redis creates and edits
    them as raw strings), small or dense."""
    node, ref = pair
    a, b = RespConn("127.0.0.1", node.port), RespConn("127.0.0.1", ref.port)
    for c in (a, b):
        c.call(b"PFADD", b"small", b"x")
        c.call(b"PFADD", b"big", *[b"%d" % i for i in range(5000)])
    for k in (b"small", b"big"):
        assert both(a, b, b"OBJECT", b"ENCODING", k) == b"raw"
    a.close()
    b.close()
