"""Generators of the "stream" differential family (used by
test_node_stream.py).

Keys share the hash tag {s}.  IDs are explicit and small (ms 0..40), so
both servers build the same streams; "*" IDs only go to {s}auto, whose
replies are compared by shape.  Replies with times in them (idle times,
seen and delivery times, XINFO's radix tree figures, which describe
Redis's memory layout) are compared with those fields masked.
"""
import re

from difftest import Cmd, Error, Map, generator

SKEYS = [b"{s}a", b"{s}b", b"{s}c"]
OTHER = [b"{s}str", b"{s}none"]
AUTO = b"{s}auto"
GROUPS = [b"g1", b"g2", b"g3"]
CONSUMERS = [b"alice", b"bob", b"carol", b""]
FIELDS = [b"f", b"g", b"", b"field with space", b"\x00\xff"]


def skey(ctx):
    if ctx.r.random() < 0.9:
        return ctx.r.choice(SKEYS)
    return ctx.r.choice(OTHER)


def sid(ctx, allow_special=True):
    x = ctx.r.random()
    if x < 0.55:
        return f"{ctx.r.randint(0, 40)}-{ctx.r.randint(0, 3)}".encode()
    if x < 0.7:
        return str(ctx.r.randint(0, 40)).encode()
    if x < 0.8 and allow_special:
        return ctx.r.choice([b"-", b"+"])
    if x < 0.9:
        return ctx.r.choice([b"0-0", b"0", b"18446744073709551615-18446744073709551615",
                             b"18446744073709551615", b"0-1"])
    return ctx.r.choice([b"abc", b"1-", b"-1", b"1-x", b"1--1", b"", b"1-2-3",
                         b"18446744073709551616", b"+1", b" 1", b"1.5"])


def interval(ctx):
    x = ctx.r.random()
    if x < 0.2:
        return b"(" + sid(ctx, False)
    return sid(ctx)


def count_opt(ctx):
    if ctx.r.random() < 0.4:
        return [b"COUNT", ctx.r.choice([b"0", b"1", b"2", b"3", b"10", b"-1", b"abc"])]
    return []


def small_value(ctx):
    """Values stay small: Redis's "~" trims whole listpack nodes, whose
    byte size strata-node only estimates (entry counts are exact)."""
    if ctx.r.random() < 0.3:
        v = ctx.value()
        if len(v) <= 12:
            return v
    return b"v%d" % ctx.r.randint(0, 9)


def fields(ctx):
    out = []
    for _ in range(ctx.r.randint(1, 3)):
        out += [ctx.r.choice(FIELDS), small_value(ctx)]
    if ctx.r.random() < 0.03:
        out.pop()
    return out


def trim_opts(ctx, xadd):
    x = ctx.r.random()
    out = []
    if x < 0.55 or not xadd:
        strat = ctx.r.choice([b"MAXLEN", b"MINID", b"maxlen"])
        out.append(strat)
        if ctx.r.random() < 0.4:
            out.append(ctx.r.choice([b"=", b"~"]))
        if strat.upper() == b"MAXLEN":
            out.append(ctx.r.choice([b"0", b"1", b"2", b"3", b"5", b"-1", b"abc"]))
        else:
            out.append(sid(ctx))
        if ctx.r.random() < 0.15:
            out += [b"LIMIT", ctx.r.choice([b"0", b"1", b"100", b"-1"])]
    if not xadd and ctx.r.random() < 0.05:
        out = ctx.r.choice([[], [b"LIMIT", b"10"], [b"MAXLEN", b"1", b"MINID", b"2"]])
    return out


@generator("stream", 6)
def gen_xadd(ctx):
    k = skey(ctx)
    args = [ctx.cmdname(b"XADD"), k]
    if ctx.r.random() < 0.1:
        args.append(b"NOMKSTREAM")
    if ctx.r.random() < 0.2:
        args += trim_opts(ctx, True)
    x = ctx.r.random()
    if x < 0.8:
        args.append(f"{ctx.r.randint(0, 40)}-{ctx.r.randint(0, 3)}".encode())
    elif x < 0.92:
        args.append(f"{ctx.r.randint(0, 40)}-*".encode())
    else:
        args.append(sid(ctx))
    return Cmd(args + fields(ctx), keys=[k], write=True)


def id_shape(differ, cmd, a, b):
    pat = re.compile(rb"^\d+-\d+$")
    if isinstance(a, bytes) and isinstance(b, bytes) and pat.match(a) and pat.match(b):
        return None
    if type(a) is type(b) and a == b:
        return None
    return f"{a!r} vs {b!r}"


@generator("stream", 1)
def gen_xadd_auto(ctx):
    x = ctx.r.random()
    if x < 0.6:
        return Cmd([b"XADD", AUTO, b"MAXLEN", b"5", b"*", b"f", b"v"], keys=[AUTO], write=True,
                   check=id_shape)
    if x < 0.8:
        return Cmd([b"XLEN", AUTO], keys=[AUTO])
    return Cmd([b"XRANGE", AUTO, b"-", b"+", b"COUNT", b"0"], keys=[AUTO])


@generator("stream", 4)
def gen_xrange(ctx):
    k = skey(ctx)
    name = ctx.r.choice([b"XRANGE", b"XREVRANGE"])
    args = [ctx.cmdname(name), k, interval(ctx), interval(ctx)] + count_opt(ctx)
    if ctx.r.random() < 0.03:
        args.append(b"EXTRA")
    return Cmd(args, keys=[k])


@generator("stream", 1)
def gen_xlen(ctx):
    k = skey(ctx)
    return Cmd([b"XLEN", k], keys=[k])


@generator("stream", 1.5)
def gen_xdel(ctx):
    k = skey(ctx)
    ids = [sid(ctx, False) for _ in range(ctx.r.randint(1, 3))]
    return Cmd([b"XDEL", k] + ids, keys=[k], write=True)


@generator("stream", 1)
def gen_xtrim(ctx):
    k = skey(ctx)
    return Cmd([b"XTRIM", k] + trim_opts(ctx, False), keys=[k], write=True)


@generator("stream", 0.7)
def gen_xsetid(ctx):
    k = skey(ctx)
    args = [b"XSETID", k, sid(ctx)]
    if ctx.r.random() < 0.4:
        args += [b"ENTRIESADDED", ctx.r.choice([b"0", b"3", b"10", b"100", b"-1"])]
    if ctx.r.random() < 0.3:
        args += [b"MAXDELETEDID", sid(ctx)]
    return Cmd(args, keys=[k], write=True)


@generator("stream", 2)
def gen_xread(ctx):
    ks = [skey(ctx) for _ in range(ctx.r.randint(1, 2))]
    ids = [ctx.r.choice([b"$", b"0", b"0-0", sid(ctx)]) for _ in ks]
    args = [b"XREAD"] + count_opt(ctx)
    if ctx.r.random() < 0.03:
        args.append(ctx.r.choice([b"NOACK", b"GROUP"]))
    args += [b"STREAMS"] + ks + ids
    if ctx.r.random() < 0.03:
        args.pop()
    return Cmd(args, keys=ks)


@generator("stream", 1.2)
def gen_xgroup(ctx):
    k = skey(ctx)
    g = ctx.r.choice(GROUPS)
    x = ctx.r.random()
    if x < 0.4:
        args = [b"XGROUP", b"CREATE", k, g, ctx.r.choice([b"$", b"0", sid(ctx)])]
        if ctx.r.random() < 0.4:
            args.append(b"MKSTREAM")
        if ctx.r.random() < 0.2:
            args += [b"ENTRIESREAD", ctx.r.choice([b"0", b"2", b"-1", b"-2", b"x"])]
    elif x < 0.55:
        args = [b"XGROUP", b"SETID", k, g, ctx.r.choice([b"$", b"0", sid(ctx)])]
        if ctx.r.random() < 0.3:
            args += [b"ENTRIESREAD", ctx.r.choice([b"0", b"1", b"-1"])]
    elif x < 0.65:
        args = [b"XGROUP", b"DESTROY", k, g]
    elif x < 0.8:
        args = [b"XGROUP", b"CREATECONSUMER", k, g, ctx.r.choice(CONSUMERS)]
    elif x < 0.92:
        args = [b"XGROUP", b"DELCONSUMER", k, g, ctx.r.choice(CONSUMERS)]
    else:
        args = ctx.r.choice([[b"XGROUP", b"HELP"], [b"XGROUP", b"FOO", k, g],
                             [b"XGROUP", b"CREATE", k], [b"XGROUP", b"DESTROY", k, g, b"x"]])
    return Cmd(args, keys=[k], write=True)


@generator("stream", 3)
def gen_xreadgroup(ctx):
    ks = [skey(ctx) for _ in range(ctx.r.randint(1, 2))]
    ids = [ctx.r.choice([b">", b">", b"0", sid(ctx)]) for _ in ks]
    args = [b"XREADGROUP", b"GROUP", ctx.r.choice(GROUPS), ctx.r.choice(CONSUMERS)] + count_opt(ctx)
    if ctx.r.random() < 0.2:
        args.append(b"NOACK")
    args += [b"STREAMS"] + ks + ids
    return Cmd(args, keys=ks, write=True)


@generator("stream", 1.2)
def gen_xack(ctx):
    k = skey(ctx)
    ids = [sid(ctx, False) for _ in range(ctx.r.randint(1, 3))]
    return Cmd([b"XACK", k, ctx.r.choice(GROUPS)] + ids, keys=[k], write=True)


def mask(v, names):
    """The parsed reply with the values of map keys in `names` masked, at
    any depth (flat key/value lists and maps alike)."""
    if isinstance(v, list):
        out = [mask(e, names) for e in v]
        for i in range(0, len(out) - 1):
            if isinstance(v[i], bytes) and not isinstance(v[i], Error) and v[i] in names and i % 2 == 0:
                out[i + 1] = "*"
        return out
    return v


def mask_pending_rows(v, col, width):
    if isinstance(v, list):
        if len(v) == width and all(not isinstance(e, list) for e in v) and isinstance(v[col], int):
            return [e if i != col else "*" for i, e in enumerate(v)]
        return [mask_pending_rows(e, col, width) for e in v]
    return v


def masked_check(names, rows=()):
    def check(differ, cmd, a, b):
        ma, mb = mask(a, names), mask(b, names)
        for col, width in rows:
            ma, mb = mask_pending_rows(ma, col, width), mask_pending_rows(mb, col, width)
        if ma != mb:
            return f"{ma!r:.400} vs {mb!r:.400}"
        return None
    return check


@generator("stream", 1.5)
def gen_xpending(ctx):
    k = skey(ctx)
    g = ctx.r.choice(GROUPS)
    if ctx.r.random() < 0.35:
        return Cmd([b"XPENDING", k, g], keys=[k])
    args = [b"XPENDING", k, g]
    if ctx.r.random() < 0.3:
        args += [b"IDLE", ctx.r.choice([b"0", b"1", b"600000", b"x"])]
    args += [interval(ctx), interval(ctx), ctx.r.choice([b"10", b"1", b"0", b"-1", b"x"])]
    if ctx.r.random() < 0.4:
        args.append(ctx.r.choice(CONSUMERS))
    return Cmd(args, keys=[k], check=masked_check(set(), rows=[(2, 4)]))


@generator("stream", 1.2)
def gen_xclaim(ctx):
    k = skey(ctx)
    args = [b"XCLAIM", k, ctx.r.choice(GROUPS), ctx.r.choice(CONSUMERS),
            ctx.r.choice([b"0", b"0", b"600000", b"-5", b"x"])]
    args += [sid(ctx, False) for _ in range(ctx.r.randint(1, 3))]
    for _ in range(ctx.r.randint(0, 2)):
        args += ctx.r.choice([[b"FORCE"], [b"JUSTID"], [b"IDLE", b"0"], [b"IDLE", b"700000"],
                              [b"TIME", b"1000"], [b"RETRYCOUNT", b"5"], [b"LASTID", sid(ctx, False)],
                              [b"BOGUS"], [b"RETRYCOUNT", b"x"]])
    return Cmd(args, keys=[k], write=True)


@generator("stream", 1.2)
def gen_xautoclaim(ctx):
    k = skey(ctx)
    args = [b"XAUTOCLAIM", k, ctx.r.choice(GROUPS), ctx.r.choice(CONSUMERS),
            ctx.r.choice([b"0", b"600000", b"-1", b"x"]), interval(ctx)]
    if ctx.r.random() < 0.5:
        args += [b"COUNT", ctx.r.choice([b"1", b"2", b"5", b"0", b"x"])]
    if ctx.r.random() < 0.3:
        args.append(b"JUSTID")
    return Cmd(args, keys=[k], write=True)


XINFO_MASK = {b"radix-tree-keys", b"radix-tree-nodes", b"idle", b"seen-time"}


@generator("stream", 1.5)
def gen_xinfo(ctx):
    k = skey(ctx)
    x = ctx.r.random()
    if x < 0.35:
        args = [b"XINFO", b"STREAM", k]
        if ctx.r.random() < 0.4:
            args.append(b"FULL")
            if ctx.r.random() < 0.5:
                args += [b"COUNT", ctx.r.choice([b"0", b"1", b"2", b"x"])]
    elif x < 0.65:
        args = [b"XINFO", b"GROUPS", k]
    elif x < 0.95:
        args = [b"XINFO", b"CONSUMERS", k, ctx.r.choice(GROUPS)]
    else:
        args = ctx.r.choice([[b"XINFO", b"HELP"], [b"XINFO", b"BOGUS", k], [b"XINFO", b"STREAM"]])
    # FULL: group PEL rows [id, consumer, time, count], consumer rows [id, time, count]
    return Cmd(args, keys=[k], check=masked_check(XINFO_MASK, rows=[(2, 4), (1, 3)]))


@generator("stream", 1)
def gen_stream_keys(ctx):
    k = skey(ctx)
    x = ctx.r.random()
    if x < 0.2:
        return Cmd([b"TYPE", k], keys=[k])
    if x < 0.35:
        return Cmd([b"OBJECT", b"ENCODING", k], keys=[k])
    if x < 0.5:
        return Cmd([b"DEL", k], keys=[k], write=True)
    if x < 0.65:
        d = ctx.r.choice(SKEYS)
        return Cmd([b"COPY", k, d] + ([b"REPLACE"] if ctx.r.random() < 0.5 else []), keys=[k, d], write=True)
    if x < 0.8:
        d = ctx.r.choice(SKEYS)
        return Cmd([b"RENAME", k, d], keys=[k, d], write=True)
    if x < 0.9:
        return Cmd([b"SET", b"{s}str", b"x"], keys=[b"{s}str"], write=True)
    return Cmd([b"EXPIRE", k, b"100"], keys=[k], write=True)
