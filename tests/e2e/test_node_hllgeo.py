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
