"""Sorted set commands on strata-node: seeded differential runs against
redis-server for every zset command (options and their conflicts, inf and
exclusive bounds, lex ranges, LIMIT, negative indexes, wrong types, set
inputs, WEIGHTS/AGGREGATE), ZRANDMEMBER and ZSCAN checked by property, a
100,000-member zset whose score windows and counts must match the
reference, and the blocking pops (wake order, timeouts).

Seeds are printed; STRATA_SEED=N replays a run, STRATA_DIFF_COUNT scales it.

Keys share the hash tag {z}, so the multi-key commands stay in one slot if
these generators are ever run through the proxy.  Lex commands only touch
the "lex" keys, whose members all have score 0: Redis leaves lex ranges
undefined when scores differ.  Members stay at most 64 bytes and scores
avoid -0, where Redis's two encodings differ from each other (its compact
one prints -0 as 0, as strata-node always does).
"""
import random
import time

import pytest

from difftest import wait_blocked, pairs_of, scan_all, BASE_SEED, Cmd, Error, RespConn, generator, _arity_error_variant, n, run_diff


ZKEYS = [b"{z}a", b"{z}b", b"{z}c", b"{z}d"]
LEXKEYS = [b"{z}lex1", b"{z}lex2"]
OTHER = [b"{z}str", b"{z}set", b"{z}none"]   # a string, a set, a missing key
MEMBERS = [b"a", b"b", b"c", b"d", b"e", b"aa", b"ab", b"1", b"-2", b"", b"\x00",
           b"\xff\xfe", b"sp ace", b"x" * 64, b"\xc3\xa9"]
SCORES = [b"0", b"1", b"-1", b"2", b"1.5", b"-2.25", b"10", b"3", b"inf", b"-inf", b"+inf",
          b"1e300", b"-1e300", b"0.1", b"0.2", b"0.30000000000000004", b"1e-10",
          b"123456789.123", b"4503599627370497", b"5e-324"]
BAD_SCORES = [b"nan", b"abc", b"", b"1 ", b" 1", b"1e400", b"0x10", b"(1", b"--1", b"inf1"]
SCORE_BOUNDS = [b"-inf", b"+inf", b"inf", b"0", b"1", b"2", b"-1", b"1.5", b"(1", b"(0",
                b"(-inf", b"(+inf", b"(2", b"(1.5", b"10", b"(10", b"-2.25", b"1e300"]
BAD_SCORE_BOUNDS = [b"abc", b"nan", b"(nan", b"((1", b"1 ", b"[1", b"1)"]
# strtod quirks Redis accepts in range bounds: spaces in front, hex, "", "("
ODD_SCORE_BOUNDS = [b" 1", b"0x1p1", b"", b"(", b"infinity", b"-INF", b"1e400", b"1e-400"]
LEX_BOUNDS = [b"-", b"+", b"[a", b"(a", b"[b", b"(b", b"[aa", b"(ab", b"[", b"(", b"[c",
              b"(e", b"[\xff", b"[\x00", b"(1", b"[sp ace"]
BAD_LEX_BOUNDS = [b"a", b"", b"+x", b"-x", b"]a", b"++"]
INDEXES = [0, 1, 2, -1, -2, -3, 5, 10, -10, -100, 100, 9223372036854775807,
           -9223372036854775808]


def member(ctx):
    if ctx.r.random() < 0.75:
        return ctx.r.choice(MEMBERS[:8])
    return ctx.r.choice(MEMBERS)


def score(ctx):
    x = ctx.r.random()
    if x < 0.5:
        return str(ctx.r.randint(-3, 5)).encode()
    if x < 0.93:
        return ctx.r.choice(SCORES)
    return ctx.r.choice(BAD_SCORES)


def zkey(ctx):
    x = ctx.r.random()
    if x < 0.88:
        return ctx.r.choice(ZKEYS)
    return ctx.r.choice(OTHER)


def score_bound(ctx):
    x = ctx.r.random()
    if x < 0.3:
        v = str(ctx.r.randint(-3, 5)).encode()
        return b"(" + v if ctx.r.random() < 0.3 else v
    if x < 0.9:
        return ctx.r.choice(SCORE_BOUNDS)
    if x < 0.95:
        return ctx.r.choice(ODD_SCORE_BOUNDS)
    return ctx.r.choice(BAD_SCORE_BOUNDS)


def lex_bound(ctx):
    x = ctx.r.random()
    if x < 0.3:
        return ctx.r.choice(b"[(") .to_bytes(1, "big") + member(ctx)
    if x < 0.95:
        return ctx.r.choice(LEX_BOUNDS)
    return ctx.r.choice(BAD_LEX_BOUNDS)


def index(ctx):
    if ctx.r.random() < 0.7:
        return ctx.r.randint(-6, 6)
    return ctx.r.choice(INDEXES)


def limit_args(ctx):
    x = ctx.r.random()
    if x < 0.6:
        return [b"LIMIT", ctx.r.randint(0, 4), ctx.r.choice([-1, 0, 1, 2, 3, 100])]
    if x < 0.8:
        return [b"LIMIT", ctx.r.choice([-1, -5, 100, 9223372036854775807]),
                ctx.r.choice([-1, -100, 1, 9223372036854775807])]
    return ctx.r.choice([[b"LIMIT", b"x", 1], [b"LIMIT", 0], [b"LIMIT"], [b"LIMIT", 0, b"1.5"]])


# --- property checks -----------------------------------------------------------

def check_zrandmember(differ, cmd, a, b):
    """Random members: the right number, distinct for a positive count, and
    each (with its score) really in the zset (both sides hold the same)."""
    if isinstance(a, Error) or isinstance(b, Error) or a is None or b is None or b == []:
        return None if a == b else "replies differ"
    z = differ.b.call(b"ZRANGE", cmd.args[1], 0, -1, b"WITHSCORES")
    scores = dict(pairs_of(z))
    if len(cmd.args) == 2:
        return None if isinstance(a, bytes) and a in scores else f"{a!r} is not a member"
    if not isinstance(a, list):
        return "not an array"
    count = int(cmd.args[2])
    withscores = len(cmd.args) == 4
    if len(a) != len(b):
        return f"{len(a)} elements, the reference has {len(b)}"
    if withscores:
        for m, s in pairs_of(a):
            if scores.get(m) != s:
                return f"pair {m!r} {s!r} not in the zset"
        got = [m for m, _ in pairs_of(a)]
    else:
        got = a
        if any(m not in scores for m in got):
            return "an element is not a member"
    if count > 0 and len(set(got)) != len(got):
        return "repeated members with a positive count"
    if count >= len(scores) and a != b:
        return "the whole zset should come in reverse order"
    return None


def zscan_all(conn, first, args):
    """member -> score of a whole ZSCAN, or a text saying what was wrong."""
    seen, err = scan_all(conn, args, first, pairs=True, max_calls=10_000)
    return err if err else dict(pairs_of(seen))


def check_zscan(differ, cmd, a, b):
    if isinstance(a, Error) or isinstance(b, Error):
        return None if a == b else "replies differ"
    got = [zscan_all(conn, first, cmd.args) for conn, first in ((differ.a, a), (differ.b, b))]
    for g in got:
        if isinstance(g, str):
            return g
    return None if got[0] == got[1] else f"ZSCAN differs: {got[0]!r:.200} vs {got[1]!r:.200}"


# --- generators ----------------------------------------------------------------

ZADD_OPTS = [b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR", b"nx", b"ch"]


@generator("zset", 6)
def gen_zadd(ctx):
    k = zkey(ctx)
    opts = []
    x = ctx.r.random()
    if x < 0.5:
        opts = ctx.r.sample(ZADD_OPTS, ctx.r.randint(1, 2))
    if ctx.r.random() < 0.05:
        opts += ctx.r.choice([[b"NX", b"XX"], [b"GT", b"LT"], [b"NX", b"GT"], [b"LT", b"NX"],
                              [b"XX", b"GT", b"CH"], [b"XX", b"LT", b"INCR"]])
    npairs = 1 if b"INCR" in opts and ctx.r.random() < 0.9 else ctx.r.randint(1, 5)
    args = [ctx.cmdname(b"ZADD"), k] + opts
    for _ in range(npairs):
        args += [score(ctx), member(ctx)]
    if ctx.r.random() < 0.05:
        args = args[:-1]  # a score without its member
    return Cmd(_arity_error_variant(ctx, args, 4), keys=[k], write=True)


@generator("zset", 2)
def gen_zincrby(ctx):
    k = zkey(ctx)
    x = ctx.r.random()
    if x < 0.1:  # inf + -inf is NaN
        args = [b"ZINCRBY", k, ctx.r.choice([b"inf", b"-inf"]), member(ctx)]
    else:
        args = [b"ZINCRBY", k, score(ctx), member(ctx)]
    if ctx.r.random() < 0.04:
        args = [b"ZINCRBY", k, b"NX", member(ctx)]
    return Cmd(_arity_error_variant(ctx, args, 4, 4), keys=[k], write=True)


@generator("zset", 2)
def gen_zrem(ctx):
    k = zkey(ctx)
    args = [b"ZREM", k] + [member(ctx) for _ in range(ctx.r.randint(1, 4))]
    return Cmd(_arity_error_variant(ctx, args, 3), keys=[k], write=True)


@generator("zset", 2)
def gen_zscore(ctx):
    k = zkey(ctx)
    x = ctx.r.random()
    if x < 0.4:
        args = [b"ZSCORE", k, member(ctx)]
        return Cmd(_arity_error_variant(ctx, args, 3, 3), keys=[k])
    if x < 0.7:
        args = [b"ZMSCORE", k] + [member(ctx) for _ in range(ctx.r.randint(1, 4))]
        return Cmd(_arity_error_variant(ctx, args, 3), keys=[k])
    return Cmd(_arity_error_variant(ctx, [b"ZCARD", k], 2, 2), keys=[k])


@generator("zset", 2)
def gen_zcount(ctx):
    k = zkey(ctx)
    return Cmd(_arity_error_variant(ctx, [b"ZCOUNT", k, score_bound(ctx), score_bound(ctx)], 4, 4),
               keys=[k])


@generator("zset", 2)
def gen_zrank(ctx):
    k = zkey(ctx)
    name = ctx.r.choice([b"ZRANK", b"ZREVRANK"])
    return Cmd(_arity_error_variant(ctx, [name, k, member(ctx)], 3, 3), keys=[k])


def range_opts(ctx, kind):
    """Options of the generic ZRANGE for a range of `kind`."""
    opts = []
    if kind == b"BYSCORE" or kind == b"BYLEX":
        opts.append(kind)
    if ctx.r.random() < 0.4:
        opts.append(b"REV")
    if kind != b"RANK" and ctx.r.random() < 0.5:
        opts += limit_args(ctx)
    if kind != b"BYLEX" and ctx.r.random() < 0.5:
        opts.append(b"WITHSCORES")
    if ctx.r.random() < 0.06:  # conflicts and junk
        opts += ctx.r.choice([[b"WITHSCORES"], [b"LIMIT", 0, 1], [b"BYSCORE"], [b"BYLEX"],
                              [b"REV", b"REV"], [b"FOO"], [b"LIMIT", 0, -1]])
    if ctx.r.random() < 0.2:
        ctx.r.shuffle(opts)
    return opts


@generator("zset", 5)
def gen_zrange(ctx):
    k = zkey(ctx)
    x = ctx.r.random()
    if x < 0.35:
        args = [b"ZRANGE", k, index(ctx), index(ctx)] + range_opts(ctx, b"RANK")
    elif x < 0.7:
        args = [b"ZRANGE", k, score_bound(ctx), score_bound(ctx)] + range_opts(ctx, b"BYSCORE")
    elif x < 0.8:
        args = [b"ZREVRANGE", k, index(ctx), index(ctx)]
        if ctx.r.random() < 0.5:
            args.append(b"WITHSCORES")
        if ctx.r.random() < 0.05:
            args += [b"LIMIT", 0, 1]
    else:
        name = ctx.r.choice([b"ZRANGEBYSCORE", b"ZREVRANGEBYSCORE"])
        args = [name, k, score_bound(ctx), score_bound(ctx)]
        if ctx.r.random() < 0.5:
            args.append(b"WITHSCORES")
        if ctx.r.random() < 0.5:
            args += limit_args(ctx)
        if ctx.r.random() < 0.05:
            args.append(ctx.r.choice([b"REV", b"BYSCORE", b"BYLEX"]))
    return Cmd(_arity_error_variant(ctx, args, 4), keys=[k])


@generator("zset", 1.5)
def gen_zrangestore(ctx):
    dst, src = zkey(ctx), zkey(ctx)
    x = ctx.r.random()
    if x < 0.5:
        args = [b"ZRANGESTORE", dst, src, index(ctx), index(ctx)]
        if ctx.r.random() < 0.3:
            args.append(b"REV")
    else:
        args = [b"ZRANGESTORE", dst, src, score_bound(ctx), score_bound(ctx), b"BYSCORE"]
        if ctx.r.random() < 0.3:
            args.append(b"REV")
        if ctx.r.random() < 0.4:
            args += limit_args(ctx)
    if ctx.r.random() < 0.05:
        args.append(b"WITHSCORES")  # not accepted by ZRANGESTORE
    return Cmd(_arity_error_variant(ctx, args, 5), keys=[dst, src], write=True)


@generator("zset", 2)
def gen_zremrange(ctx):
    k = zkey(ctx)
    x = ctx.r.random()
    if x < 0.5:
        args = [b"ZREMRANGEBYRANK", k, index(ctx), index(ctx)]
    else:
        args = [b"ZREMRANGEBYSCORE", k, score_bound(ctx), score_bound(ctx)]
    return Cmd(_arity_error_variant(ctx, args, 4, 4), keys=[k], write=True)


@generator("zset", 2)
def gen_zpop(ctx):
    k = zkey(ctx)
    args = [ctx.r.choice([b"ZPOPMIN", b"ZPOPMAX"]), k]
    x = ctx.r.random()
    if x < 0.5:
        args.append(ctx.r.choice([0, 1, 2, 3, 100, -1, b"abc", 9223372036854775807]))
    elif x < 0.53:
        args += [1, 2]
    return Cmd(args, keys=[k], write=True)


@generator("zset", 1.5)
def gen_zmpop(ctx):
    ks = [zkey(ctx) for _ in range(ctx.r.randint(1, 3))]
    args = [b"ZMPOP", len(ks)] + ks + [ctx.r.choice([b"MIN", b"MAX", b"min"])]
    if ctx.r.random() < 0.5:
        args += [b"COUNT", ctx.r.choice([1, 2, 5, 100])]
    if ctx.r.random() < 0.1:
        bad = ctx.r.choice([
            [b"ZMPOP", 0, ks[0], b"MIN"], [b"ZMPOP", b"x", ks[0], b"MIN"],
            [b"ZMPOP", 5, ks[0], b"MIN"], [b"ZMPOP", 1, ks[0], b"MID"],
            [b"ZMPOP", 1, ks[0], b"MIN", b"COUNT", 0], [b"ZMPOP", 1, ks[0], b"MIN", b"COUNT"],
            [b"ZMPOP", 1, ks[0], b"MAX", b"COUNT", 1, b"COUNT", 2],
            [b"ZMPOP", -1, ks[0], b"MIN"], [b"ZMPOP", 1, ks[0], b"MIN", b"COUNT", b"x"]])
        return Cmd(bad, keys=[ks[0]], write=True)
    return Cmd(args, keys=ks, write=True)


@generator("zset", 1.5)
def gen_zrandmember(ctx):
    k = zkey(ctx)
    x = ctx.r.random()
    if x < 0.3:
        return Cmd([b"ZRANDMEMBER", k], keys=[k], check=check_zrandmember)
    count = ctx.r.choice([0, 1, 2, 3, 5, 20, -1, -3, -10, 100])
    args = [b"ZRANDMEMBER", k, count]
    if ctx.r.random() < 0.5:
        args.append(b"WITHSCORES")
    if ctx.r.random() < 0.08:  # errors are exact
        return Cmd(ctx.r.choice([
            [b"ZRANDMEMBER", k, b"x"], [b"ZRANDMEMBER", k, 1, b"FOO"],
            [b"ZRANDMEMBER", k, 1, b"WITHSCORES", b"x"],
            [b"ZRANDMEMBER", k, -9223372036854775808],
            [b"ZRANDMEMBER", k, 9223372036854775807, b"WITHSCORES"],
            [b"ZRANDMEMBER", k, -9223372036854775807, b"WITHSCORES"]]), keys=[k])
    return Cmd(args, keys=[k], check=check_zrandmember)


@generator("zset", 1)
def gen_bzpop(ctx):
    """Blocking pops that do not wait long: data present, errors, or a
    10 ms timeout (both sides reply a null array)."""
    ks = [zkey(ctx) for _ in range(ctx.r.randint(1, 3))]
    timeout = ctx.r.choice([b"0.01", b"0.01", b"0.01", b"-1", b"abc", b"0x"])
    if ctx.r.random() < 0.6:
        args = [ctx.r.choice([b"BZPOPMIN", b"BZPOPMAX"])] + ks + [timeout]
    else:
        args = [b"BZMPOP", timeout, len(ks)] + ks + [ctx.r.choice([b"MIN", b"MAX"])]
        if ctx.r.random() < 0.5:
            args += [b"COUNT", ctx.r.choice([1, 3, 0])]
    return Cmd(args, keys=ks, write=True)


@generator("zset", 1)
def gen_zscan(ctx):
    k = zkey(ctx)
    args = [b"ZSCAN", k, 0]
    if ctx.r.random() < 0.4:
        args += [b"MATCH", ctx.r.choice([b"*", b"a*", b"?", b"[a-c]", b"*b*", b"x"])]
    if ctx.r.random() < 0.4:
        args += [b"COUNT", ctx.r.choice([1, 2, 5, 100])]
    if ctx.r.random() < 0.08:
        return Cmd(ctx.r.choice([[b"ZSCAN", k, b"x"], [b"ZSCAN", k, 0, b"COUNT", 0],
                                 [b"ZSCAN", k, 0, b"FOO", 1], [b"ZSCAN", k, 0, b"MATCH"],
                                 [b"ZSCAN", k, 0, b"TYPE", b"zset"]]), keys=[k])
    return Cmd(args, keys=[k], check=check_zscan)


def setop_inputs(ctx):
    return [zkey(ctx) for _ in range(ctx.r.randint(1, 4))]


def weights_aggregate(ctx, nkeys):
    opts = []
    if ctx.r.random() < 0.4:
        opts.append(b"WEIGHTS")
        opts += [ctx.r.choice([b"1", b"2", b"-1", b"0", b"0.5", b"inf", b"-inf", b"1e300",
                               b"0.1", b"3"]) for _ in range(nkeys)]
        if ctx.r.random() < 0.05:
            opts[-1] = ctx.r.choice([b"x", b"nan"])
    if ctx.r.random() < 0.4:
        opts += [b"AGGREGATE", ctx.r.choice([b"SUM", b"MIN", b"MAX", b"max", b"AVG"])]
    return opts


@generator("zset", 3)
def gen_zsetop(ctx):
    ks = setop_inputs(ctx)
    op = ctx.r.choice([b"ZUNION", b"ZINTER", b"ZDIFF", b"ZUNIONSTORE", b"ZINTERSTORE",
                       b"ZDIFFSTORE", b"ZINTERCARD"])
    store = op.endswith(b"STORE")
    dst = zkey(ctx)
    args = [op] + ([dst] if store else []) + [len(ks)] + ks
    if op in (b"ZUNION", b"ZINTER", b"ZUNIONSTORE", b"ZINTERSTORE"):
        args += weights_aggregate(ctx, len(ks))
    if not store and op != b"ZINTERCARD" and ctx.r.random() < 0.5:
        args.append(b"WITHSCORES")
    if op == b"ZINTERCARD" and ctx.r.random() < 0.5:
        args += [b"LIMIT", ctx.r.choice([0, 1, 2, 100, -1, b"x"])]
    if ctx.r.random() < 0.08:  # numkeys and option errors
        i = 2 if store else 1
        args[i] = ctx.r.choice([0, -1, 10, b"x"])
        if ctx.r.random() < 0.5:
            args.append(ctx.r.choice([b"WITHSCORES", b"WEIGHTS", b"AGGREGATE", b"LIMIT"]))
    keys = ks + ([dst] if store else [])
    return Cmd(_arity_error_variant(ctx, args, 3), keys=keys, write=store)


@generator("zset", 1)
def gen_other_types(ctx):
    """Keep a string and a set among the inputs (wrong types, set inputs)."""
    x = ctx.r.random()
    if x < 0.3:
        return Cmd([b"SET", b"{z}str", b"v"], keys=[b"{z}str"], write=True)
    if x < 0.7:
        return Cmd([b"SADD", b"{z}set"] + [member(ctx) for _ in range(ctx.r.randint(1, 4))],
                   keys=[b"{z}set"], write=True)
    if x < 0.9:  # expiring zsets: reads, writes and STORE destinations around the TTL
        k = ctx.r.choice(ZKEYS)
        ttl = ctx.r.choice([ctx.r.randint(1, 40), ctx.r.randint(100_000, 1_000_000)])
        return Cmd([b"PEXPIRE", k, ttl], keys=[k], write=True)
    k = ctx.r.choice(ZKEYS + OTHER)
    return Cmd([b"DEL", k], keys=[k], write=True)


# --- lex keys: every member has score 0 -------------------------------------------

@generator("zset_lex", 3)
def gen_lex_zadd(ctx):
    k = ctx.r.choice(LEXKEYS)
    args = [b"ZADD", k]
    if ctx.r.random() < 0.2:
        args.append(ctx.r.choice([b"NX", b"XX", b"CH"]))
    for _ in range(ctx.r.randint(1, 6)):
        args += [b"0", member(ctx)]
    return Cmd(args, keys=[k], write=True)


@generator("zset_lex", 3)
def gen_lex_range(ctx):
    k = ctx.r.choice(LEXKEYS + [b"{z}lexstr", b"{z}lexnone"])
    x = ctx.r.random()
    if x < 0.3:
        args = [ctx.r.choice([b"ZRANGEBYLEX", b"ZREVRANGEBYLEX"]), k, lex_bound(ctx),
                lex_bound(ctx)]
        if ctx.r.random() < 0.4:
            args += limit_args(ctx)
        if ctx.r.random() < 0.04:
            args.append(b"WITHSCORES")
    elif x < 0.6:
        args = [b"ZRANGE", k, lex_bound(ctx), lex_bound(ctx)] + range_opts(ctx, b"BYLEX")
    elif x < 0.8:
        args = [b"ZLEXCOUNT", k, lex_bound(ctx), lex_bound(ctx)]
    else:
        # whole-key views, to compare the data itself now and then
        args = ctx.r.choice([[b"ZRANGE", k, 0, -1, b"WITHSCORES"], [b"ZCARD", k],
                             [b"ZRANK", k, member(ctx)], [b"ZREVRANK", k, member(ctx)]])
    return Cmd(_arity_error_variant(ctx, args, 4), keys=[k])


@generator("zset_lex", 1.5)
def gen_lex_write(ctx):
    k = ctx.r.choice(LEXKEYS)
    x = ctx.r.random()
    if x < 0.4:
        args = [b"ZREMRANGEBYLEX", k, lex_bound(ctx), lex_bound(ctx)]
    elif x < 0.6:
        args = [b"ZREM", k, member(ctx), member(ctx)]
    elif x < 0.8:
        dst = ctx.r.choice(LEXKEYS)
        args = [b"ZRANGESTORE", dst, k, lex_bound(ctx), lex_bound(ctx), b"BYLEX"]
        if ctx.r.random() < 0.3:
            args.append(b"REV")
        if ctx.r.random() < 0.4:
            args += limit_args(ctx)
        return Cmd(args, keys=[dst, k], write=True)
    elif x < 0.95:
        args = [ctx.r.choice([b"ZPOPMIN", b"ZPOPMAX"]), k, ctx.r.randint(0, 3)]
    else:  # a string among the lex keys, for WRONGTYPE
        k = b"{z}lexstr"
        args = [b"SET", k, b"v"]
    return Cmd(args, keys=[k], write=True)


# --- differential runs ---------------------------------------------------------

def test_zset_diff(pair):
    node, ref = pair
    assert run_diff(node, ref, BASE_SEED, n(6000), families=["zset"])[1] == n(6000)


def test_zset_lex_diff(pair):
    node, ref = pair
    assert run_diff(node, ref, BASE_SEED + 1, n(4000), families=["zset_lex"])[1] == n(4000)


@pytest.mark.parametrize("offset", [2, 3])
def test_zset_diff_more_seeds(pair, offset):
    node, ref = pair
    run_diff(node, ref, BASE_SEED + offset, n(3000), families=["zset", "zset_lex"])


# --- a 100,000-member zset ---------------------------------------------------------

BIG = 100_000


def test_big_zset_windows_match_redis(pair):
    """Score windows, counts, ranks and index windows over a 100,000-member
    zset (many equal scores, +/-inf, fractions) answer exactly as
    redis-server does.  Correctness only: no timing is asserted."""
    node, ref = pair
    seed = BASE_SEED + 10
    rnd = random.Random(seed)
    print(f"big zset: seed {seed} (STRATA_SEED={BASE_SEED} replays it)")
    a = RespConn("127.0.0.1", node.port, timeout=120)
    b = RespConn("127.0.0.1", ref.port, timeout=120)
    key = b"{z}big"

    def score_of(i):
        x = rnd.random()
        if x < 0.001:
            return rnd.choice([b"inf", b"-inf"])
        if x < 0.5:
            return str(rnd.randint(-500, 500)).encode()      # many ties
        return repr(rnd.uniform(-1000, 1000)).encode()

    # pipelined ZADDs of 1,000 members each, on both sides
    batch = 1000
    for start in range(0, BIG, batch):
        args = [b"ZADD", key]
        for i in range(start, start + batch):
            args += [score_of(i), b"m%06d" % i]
        for conn in (a, b):
            conn.send(args)
    for conn in (a, b):
        total = 0
        for _ in range(BIG // batch):
            total += conn.read()[1]
        assert total == BIG
    assert a.call(b"ZCARD", key) == b.call(b"ZCARD", key) == BIG

    def same(*args):
        ra, rb = a.call(*args), b.call(*args)
        assert ra == rb, f"{args!r:.200}: strata {ra!r:.300} vs reference {rb!r:.300} (seed {seed})"
        return ra

    def bound():
        x = rnd.random()
        if x < 0.1:
            return rnd.choice([b"-inf", b"+inf", b"(-inf", b"(+inf"])
        v = rnd.choice([str(rnd.randint(-500, 500)), repr(rnd.uniform(-1000, 1000))]).encode()
        return b"(" + v if rnd.random() < 0.3 else v

    deadline = time.monotonic() + 120
    for i in range(300):
        if time.monotonic() > deadline:
            break
        lo, hi = bound(), bound()
        same(b"ZCOUNT", key, lo, hi)
        off, cnt = rnd.choice([0, 0, 1, 7, 100, 5000, 99_990]), rnd.choice([1, 10, 100, -1])
        if cnt == -1:  # an unbounded window: keep it narrow in score
            v = rnd.randint(-500, 500)
            lo, hi = str(v).encode(), b"(" + str(v + 2).encode()
        same(b"ZRANGEBYSCORE", key, lo, hi, b"WITHSCORES", b"LIMIT", off, cnt)
        same(b"ZREVRANGEBYSCORE", key, hi, lo, b"WITHSCORES", b"LIMIT", off, cnt)
        same(b"ZRANGE", key, lo, hi, b"BYSCORE", b"LIMIT", off, min(cnt, 50) if cnt > 0 else 50)
        m = b"m%06d" % rnd.randrange(BIG)
        same(b"ZSCORE", key, m)
        if i % 5 == 0:
            same(b"ZRANK", key, m)
            same(b"ZREVRANK", key, m)
            start = rnd.choice([0, 1, 500, 49_990, 99_950, -1, -20, -60_000])
            same(b"ZRANGE", key, start, start + rnd.randint(0, 30) if start >= 0 else start + 5,
                 b"WITHSCORES")
            same(b"ZREVRANGE", key, start, start + 10 if start >= 0 else -1)
    # the whole zset, both directions, once
    assert same(b"ZRANGE", key, 0, -1, b"WITHSCORES") is not None
    same(b"ZRANGEBYSCORE", key, b"-inf", b"+inf")
    # removals of score windows keep both sides identical
    for _ in range(5):
        v = rnd.randint(-500, 480)
        same(b"ZREMRANGEBYSCORE", key, str(v).encode(), b"(" + str(v + 20).encode())
    same(b"ZREMRANGEBYRANK", key, 1000, 1999)
    same(b"ZCARD", key)
    same(b"ZRANGE", key, 0, -1, b"WITHSCORES")

    # lex windows over 20,000 members of equal score
    lkey = b"{z}biglex"
    for start in range(0, 20_000, 1000):
        args = [b"ZADD", lkey]
        for i in range(start, start + 1000):
            args += [b"0", b"%05x" % rnd.randrange(1 << 20)]
        for conn in (a, b):
            conn.send(args)
    for conn in (a, b):
        for _ in range(20):
            conn.read()
    same(b"ZCARD", lkey)

    def lex():
        x = rnd.random()
        if x < 0.15:
            return rnd.choice([b"-", b"+"])
        return rnd.choice([b"[", b"("]) + (b"%05x" % rnd.randrange(1 << 20))[:rnd.randint(1, 5)]

    for _ in range(100):
        if time.monotonic() > deadline + 60:
            break
        lo, hi = lex(), lex()
        same(b"ZLEXCOUNT", lkey, lo, hi)
        same(b"ZRANGEBYLEX", lkey, lo, hi, b"LIMIT", rnd.choice([0, 3, 500]), 20)
        same(b"ZREVRANGEBYLEX", lkey, hi, lo, b"LIMIT", rnd.choice([0, 3, 500]), 20)
    same(b"ZREMRANGEBYLEX", lkey, b"[4", b"(8")
    same(b"ZRANGE", lkey, 0, -1)
    a.close()
    b.close()


# --- blocking pops ---------------------------------------------------------------





def on_both(pair, scenario):
    """Run scenario(port) on strata-node and on redis-server; the replies
    (a list) must be identical.  Returns them."""
    node, ref = pair
    got = [scenario(node.port), scenario(ref.port)]
    assert got[0] == got[1], f"strata {got[0]!r:.600}\nreference {got[1]!r:.600}"
    return got[0]


def test_bzpopmin_wakes_waiters_in_arrival_order(pair):
    def scenario(port):
        ctl = RespConn("127.0.0.1", port)
        ctl.call(b"FLUSHALL")
        waiters = [RespConn("127.0.0.1", port) for _ in range(4)]
        for i, w in enumerate(waiters):
            w.send([b"BZPOPMIN" if i != 2 else b"BZPOPMAX", b"{z}other", b"{z}q", 0])
            wait_blocked(ctl, i + 1)  # each one queued before the next arrives
        # one write with three members: the first three waiters are served,
        # in order, each from what the previous one left
        out = [ctl.call(b"ZADD", b"{z}q", 1, b"a", 2, b"b", 3, b"c")]
        out += [w.read()[1] for w in waiters[:3]]
        wait_blocked(ctl, 1)
        # the fourth is still waiting; a write to its other key serves it
        out.append(ctl.call(b"ZADD", b"{z}other", 5, b"e"))
        out.append(waiters[3].read()[1])
        out.append(ctl.call(b"EXISTS", b"{z}q", b"{z}other"))
        for c in waiters + [ctl]:
            c.close()
        return out

    out = on_both(pair, scenario)
    # waiters 1 and 2 pop the two lowest; waiter 3 (BZPOPMAX) the highest left
    assert out[1:4] == [[b"{z}q", b"a", b"1"], [b"{z}q", b"b", b"2"], [b"{z}q", b"c", b"3"]]
    assert out[5] == [b"{z}other", b"e", b"5"]
    assert out[6] == 0


def test_bzpop_timeout_and_immediate_forms(pair):
    def scenario(port):
        c = RespConn("127.0.0.1", port)
        c.call(b"FLUSHALL")
        out = []
        t0 = time.monotonic()
        out.append(c.call(b"BZPOPMIN", b"{z}none", b"0.2"))
        elapsed = time.monotonic() - t0
        assert elapsed >= 0.19, f"timed out after {elapsed:.3f}s"
        out.append(c.call(b"BZMPOP", b"0.05", 2, b"{z}none", b"{z}n2", b"MAX", b"COUNT", 2))
        # served at once when a key has elements; the first non-empty key wins
        c.call(b"ZADD", b"{z}b", 1, b"x", 2, b"y", 3, b"z")
        out.append(c.call(b"BZPOPMAX", b"{z}none", b"{z}b", 0))
        out.append(c.call(b"BZMPOP", 0, 2, b"{z}none", b"{z}b", b"MIN", b"COUNT", 5))
        # errors, in Redis's order of checks
        c.call(b"SET", b"{z}str", b"v")
        for args in ([b"BZPOPMIN", b"{z}none", b"{z}str", b"0.01"],
                     [b"BZPOPMIN", b"{z}str", b"abc"], [b"BZPOPMIN", b"{z}none", b"-1"],
                     [b"BZMPOP", b"abc", 1, b"{z}str", b"MIN"], [b"BZMPOP", b"abc", 0, b"k", b"MIN"],
                     [b"BZMPOP", b"0.01", 1, b"{z}str", b"MIN"],
                     [b"BZMPOP", b"0.01", 1, b"k", b"MID"], [b"BZMPOP", b"-1", 1, b"k", b"MIN"],
                     [b"BZMPOP", b"0.01", 1, b"k", b"MIN", b"COUNT", 0],
                     [b"BZMPOP", b"0.01", 2, b"k", b"MIN"], [b"BZPOPMIN", b"k"]):
            out.append(c.call(*args))
        c.close()
        return out

    out = on_both(pair, scenario)
    assert out[0] is None and out[1] is None
    assert out[2] == [b"{z}b", b"z", b"3"]
    assert out[3] == [b"{z}b", [[b"x", b"1"], [b"y", b"2"]]]


def test_bzpop_waits_through_wrong_type_and_serves_bzmpop_count(pair):
    def scenario(port):
        ctl = RespConn("127.0.0.1", port)
        ctl.call(b"FLUSHALL")
        w = RespConn("127.0.0.1", port)
        w.send([b"BZMPOP", 0, 1, b"{z}k", b"MAX", b"COUNT", 2])
        wait_blocked(ctl, 1)
        out = [ctl.call(b"SET", b"{z}k", b"not a zset")]   # not served: keeps waiting
        wait_blocked(ctl, 1)
        out.append(ctl.call(b"DEL", b"{z}k"))
        out.append(ctl.call(b"ZADD", b"{z}k", 1, b"a", 2, b"b", 3, b"c"))
        out.append(w.read()[1])
        out.append(ctl.call(b"ZRANGE", b"{z}k", 0, -1, b"WITHSCORES"))
        # a waiter whose key is filled by a STORE command
        w.send([b"BZPOPMIN", b"{z}dst", 0])
        wait_blocked(ctl, 1)
        out.append(ctl.call(b"ZUNIONSTORE", b"{z}dst", 1, b"{z}k", b"WEIGHTS", 10))
        out.append(w.read()[1])
        out.append(ctl.call(b"EXISTS", b"{z}dst"))
        # inside MULTI nothing blocks: the nil of a timeout, at once
        for args in ([b"MULTI"], [b"BZPOPMIN", b"{z}dst", 0], [b"BZMPOP", 0, 1, b"{z}dst", b"MIN"],
                     [b"ZADD", b"{z}dst", 1, b"m"], [b"BZPOPMAX", b"{z}dst", 0], [b"EXEC"]):
            out.append(ctl.call(*args))
        w.close()
        ctl.close()
        return out

    out = on_both(pair, scenario)
    assert out[3] == [b"{z}k", [[b"c", b"3"], [b"b", b"2"]]]
    assert out[6] == [b"{z}dst", b"a", b"10"]
