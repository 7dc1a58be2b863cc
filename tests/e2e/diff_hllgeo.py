"""Differential generators for HyperLogLog ("hll") and geo ("geo")
commands, compared byte for byte with redis-server (difftest.py).

HyperLogLog keys share the hash tag {h}, geo keys {g}.  PFADD adds a few
elements or, now and then, hundreds at once, so values cross from the
sparse encoding to the dense one; GET compares the bytes.  Corrupted
values (a valid header over broken opcodes) are only read (PFCOUNT,
PFMERGE) or given one element: Redis edits in place and keeps what a
failing multi-element PFADD changed before the error, where strata-node
rolls the command back.

Geo points are random with edge cases (the poles' limit +-85.05112878,
the antimeridian, 0,0) and invalid ones; searches use every option in
random order, radius 0 to half the globe and more, and boxes.  Points
at equal distances under COUNT are covered by test_node_hllgeo's
test_geo_count_at_equal_distances.
"""
from difftest import Cmd, generator

HKEYS = [b"{h}a", b"{h}b", b"{h}c"]
HOTHER = [b"{h}str", b"{h}z", b"{h}none", b"{h}bad"]
ELEMS = [b"a", b"b", b"c", b"", b"\x00", b"foo", b"bar", b"x" * 100, b"\xff\xfe"]

GKEYS = [b"{g}a", b"{g}b"]
GDEST = [b"{g}d1", b"{g}d2", b"{g}a"]
GOTHER = [b"{g}str", b"{g}none"]
MEMBERS = [b"m%d" % i for i in range(40)] + [b"", b"sp ace", b"\xc3\xa9"]
EDGE_POINTS = [(b"180", b"85.05112878"), (b"-180", b"-85.05112878"), (b"0", b"0"),
               (b"179.99999", b"0.5"), (b"-179.99999", b"-0.5"), (b"13.361389", b"38.115556"),
               (b"-180", b"85.05112878"), (b"180", b"-85.05112878"), (b"0.0000001", b"-0.0000001")]
BAD_POINTS = [(b"181", b"0"), (b"0", b"85.06"), (b"abc", b"1"), (b"1", b"nan"), (b"-180.1", b"0"),
              (b"", b"1"), (b"inf", b"0")]
UNITS = [b"m", b"km", b"ft", b"mi", b"KM", b"Mi", b"M"]
BAD_UNITS = [b"yd", b"", b"meters"]


# --- HyperLogLog ---------------------------------------------------------------

def hkey(ctx):
    return ctx.r.choice(HKEYS) if ctx.r.random() < 0.9 else ctx.r.choice(HOTHER)


def elem(ctx):
    x = ctx.r.random()
    if x < 0.5:
        return b"e%d" % ctx.r.randint(0, 5000)
    if x < 0.8:
        return bytes(ctx.r.randrange(256) for _ in range(ctx.r.randint(0, 24)))
    return ctx.r.choice(ELEMS)


@generator("hll", 4)
def gen_pfadd(ctx):
    k = hkey(ctx)
    x = ctx.r.random()
    if x < 0.1:
        n = 0
    elif x < 0.85:
        n = ctx.r.randint(1, 8)
    else:
        n = ctx.r.randint(100, 1500)
    if k == b"{h}bad":
        n = min(n, 1)
    return Cmd([ctx.cmdname(b"PFADD"), k] + [elem(ctx) for _ in range(n)], keys=[k], write=True)


@generator("hll", 3)
def gen_pfcount(ctx):
    ks = [hkey(ctx) for _ in range(1 if ctx.r.random() < 0.6 else ctx.r.randint(2, 4))]
    return Cmd([ctx.cmdname(b"PFCOUNT")] + ks, keys=ks, write=True)


@generator("hll", 1.5)
def gen_pfmerge(ctx):
    ks = [hkey(ctx) for _ in range(ctx.r.randint(1, 4))]
    if ks[0] == b"{h}bad":
        ks[0] = HKEYS[0]
    return Cmd([ctx.cmdname(b"PFMERGE")] + ks, keys=ks, write=True)


@generator("hll", 3)
def gen_hll_get(ctx):
    k = hkey(ctx)
    return Cmd([b"GET", k], keys=[k])


def corrupt_value(ctx):
    """A header Redis accepts over opcodes that do not add up to 16384
    registers, or a dense value of the wrong length, or not an HLL."""
    hdr = b"HYLL" + bytes([1, 0, 0, 0]) + bytes(7) + bytes([0x80])
    x = ctx.r.random()
    if x < 0.3:
        return hdr + bytes([0x7f, 0xff, 0x80])      # XZERO 16384 then one more VAL
    if x < 0.5:
        return hdr + bytes([0x40, 0x10])            # XZERO of 17 registers only
    if x < 0.6:
        return hdr + bytes([0x80 | (31 << 2) | 3]) * 4096  # all VAL 32: valid, dense-worthy
    if x < 0.7:
        return b"HYLL" + bytes([0, 0, 0, 0]) + bytes(8) + bytes(100)  # dense, short
    if x < 0.8:
        return b"HYLL" + bytes([2, 0, 0, 0]) + bytes(8) + bytes(4)    # unknown encoding
    if x < 0.85:
        return b"HYLX" + bytes(20)
    if x < 0.9:
        return hdr + bytes([0x7f])                  # an XZERO cut after its first byte
    return hdr                                      # no opcodes at all


@generator("hll", 1)
def gen_hll_other(ctx):
    x = ctx.r.random()
    if x < 0.4:
        return Cmd([b"SET", b"{h}bad", corrupt_value(ctx)], keys=[b"{h}bad"], write=True)
    if x < 0.6:
        return Cmd([b"SET", b"{h}str", ctx.value()], keys=[b"{h}str"], write=True)
    if x < 0.75:
        return Cmd([b"ZADD", b"{h}z", 1, b"m"], keys=[b"{h}z"], write=True)
    if x < 0.9:
        k = ctx.r.choice(HKEYS)
        return Cmd([b"DEL", k], keys=[k], write=True)
    k = ctx.r.choice(HKEYS)
    return Cmd([b"EXPIRE", k, 1000], keys=[k], write=True)


# --- geo -------------------------------------------------------------------

def gkey(ctx):
    return ctx.r.choice(GKEYS) if ctx.r.random() < 0.92 else ctx.r.choice(GOTHER)


def gmember(ctx):
    return ctx.r.choice(MEMBERS)


def coord(ctx):
    """A random point, with the edges now and then (as text)."""
    x = ctx.r.random()
    if x < 0.75:
        lon = ctx.r.uniform(-180, 180)
        lat = ctx.r.uniform(-85.05112878, 85.05112878)
        d = ctx.r.choice([6, 10, 15])
        return (b"%.*f" % (d, lon), b"%.*f" % (d, lat))
    if x < 0.85:
        # clustered near a point, so small radii find something
        return (b"%.6f" % (13.36 + ctx.r.uniform(-0.5, 0.5)), b"%.6f" % (38.11 + ctx.r.uniform(-0.5, 0.5)))
    if x < 0.95:
        return ctx.r.choice(EDGE_POINTS)
    return ctx.r.choice(BAD_POINTS)


def unit(ctx):
    return ctx.r.choice(UNITS) if ctx.r.random() < 0.95 else ctx.r.choice(BAD_UNITS)


def radius(ctx):
    x = ctx.r.random()
    if x < 0.15:
        return b"0"
    if x < 0.6:
        return b"%.3f" % ctx.r.uniform(0, 200)
    if x < 0.8:
        return b"%d" % ctx.r.randint(200, 5000)
    if x < 0.95:
        return ctx.r.choice([b"20000", b"10000", b"40000000", b"1e7", b"6000"])
    return ctx.r.choice([b"-1", b"abc", b"", b"nan"])


@generator("geo", 4)
def gen_geoadd(ctx):
    k = gkey(ctx)
    args = [ctx.cmdname(b"GEOADD"), k]
    x = ctx.r.random()
    if x < 0.3:
        opts = ctx.r.sample([b"NX", b"XX", b"CH", b"ch", b"nx"], ctx.r.randint(1, 2))
        args += opts
    n = ctx.r.randint(1, 6)
    for _ in range(n):
        lon, lat = coord(ctx)
        m = gmember(ctx)
        if (lon, lat) in EDGE_POINTS:
            m = b"edge%d" % EDGE_POINTS.index((lon, lat))
        args += [lon, lat, m]
    if ctx.r.random() < 0.03:
        args = args[:-1]
    return Cmd(args, keys=[k], write=True)


@generator("geo", 2)
def gen_geodist(ctx):
    k = gkey(ctx)
    args = [ctx.cmdname(b"GEODIST"), k, gmember(ctx), gmember(ctx)]
    if ctx.r.random() < 0.6:
        args.append(unit(ctx))
    if ctx.r.random() < 0.03:
        args.append(b"extra")
    return Cmd(args, keys=[k])


@generator("geo", 2)
def gen_geohash_pos(ctx):
    k = gkey(ctx)
    name = ctx.r.choice([b"GEOHASH", b"GEOPOS"])
    return Cmd([ctx.cmdname(name), k] + [gmember(ctx) for _ in range(ctx.r.randint(0, 4))], keys=[k])


def search_opts(ctx, store_ok, count_ok=True):
    opts = []
    if ctx.r.random() < 0.5:
        opts.append([ctx.r.choice([b"ASC", b"DESC", b"asc"])])
    if count_ok and ctx.r.random() < 0.4:
        c = [b"COUNT", ctx.r.choice([1, 2, 3, 5, 10, 100])]
        if ctx.r.random() < 0.02:
            c[1] = ctx.r.choice([0, -1, b"x"])
        if ctx.r.random() < 0.4:
            c.append(b"ANY")
        opts.append(c)
    elif ctx.r.random() < 0.02:
        opts.append([b"ANY"])
    if not store_ok or ctx.r.random() < 0.05:
        for w in (b"WITHCOORD", b"WITHDIST", b"WITHHASH"):
            if ctx.r.random() < 0.5:
                opts.append([w])
    ctx.r.shuffle(opts)
    return [a for o in opts for a in o]


@generator("geo", 4)
def gen_geosearch(ctx):
    store = ctx.r.random() < 0.3
    src = gkey(ctx)
    if store:
        dst = ctx.r.choice(GDEST)
        args = [ctx.cmdname(b"GEOSEARCHSTORE"), dst, src]
        keys = [dst, src]
    else:
        args = [ctx.cmdname(b"GEOSEARCH"), src]
        keys = [src]
    parts = []
    x = ctx.r.random()
    if x < 0.5:
        parts.append([b"FROMMEMBER", gmember(ctx)])
    elif x < 0.97:
        lon, lat = coord(ctx)
        parts.append([b"FROMLONLAT", lon, lat])
    if ctx.r.random() < 0.02:
        parts.append([b"FROMMEMBER", gmember(ctx)])
    y = ctx.r.random()
    if y < 0.55:
        parts.append([b"BYRADIUS", radius(ctx), unit(ctx)])
    elif y < 0.97:
        w = radius(ctx) if ctx.r.random() < 0.9 else b"-5"
        parts.append([b"BYBOX", w, radius(ctx), unit(ctx)])
    if ctx.r.random() < 0.02:
        parts.append([b"BYRADIUS", b"10", b"km"])
    o = search_opts(ctx, store)
    if store and ctx.r.random() < 0.5:
        o.append(b"STOREDIST")
    parts.append(o)
    ctx.r.shuffle(parts)
    args += [a for p in parts for a in p]
    return Cmd(args, keys=keys, write=store)


@generator("geo", 3)
def gen_georadius(ctx):
    k = gkey(ctx)
    bymember = ctx.r.random() < 0.4
    ro = ctx.r.random() < 0.3
    name = (b"GEORADIUSBYMEMBER" if bymember else b"GEORADIUS") + (b"_RO" if ro else b"")
    args = [ctx.cmdname(name), k]
    if bymember:
        args.append(gmember(ctx))
    else:
        args += list(coord(ctx))
    args += [radius(ctx), unit(ctx)]
    store = not ro and ctx.r.random() < 0.3
    args += search_opts(ctx, store)
    keys = [k]
    if store or ctx.r.random() < 0.03:
        dst = ctx.r.choice(GDEST)
        args += [ctx.r.choice([b"STORE", b"STOREDIST"]), dst]
        keys.append(dst)
    return Cmd(args, keys=keys, write=not ro)


@generator("geo", 2)
def gen_geo_read(ctx):
    k = ctx.r.choice(GKEYS + GDEST)
    x = ctx.r.random()
    if x < 0.7:
        return Cmd([b"ZRANGE", k, 0, -1, b"WITHSCORES"], keys=[k])
    if x < 0.85:
        return Cmd([b"TTL", k], keys=[k])
    return Cmd([b"ZCARD", k], keys=[k])


@generator("geo", 0.5)
def gen_geo_other(ctx):
    x = ctx.r.random()
    if x < 0.4:
        return Cmd([b"SET", b"{g}str", b"v"], keys=[b"{g}str"], write=True)
    if x < 0.7:
        k = ctx.r.choice(GKEYS + GDEST)
        return Cmd([b"EXPIRE", k, 5000], keys=[k], write=True)
    k = ctx.r.choice(GKEYS)
    return Cmd([b"ZREM", k, gmember(ctx)], keys=[k], write=True)
