"""List commands on strata-node: differential runs against redis-server
(every list command, with negative and out-of-range indexes, count 0 and
huge counts, wrong types, empty results, LPOS options, moves between lists
and the blocking pops in their immediate or timed-out forms), a script of
exact edge cases, long lists whose middle is edited (LINSERT, LREM, LSET,
LTRIM shift elements on either side), and a 1,000,000-element list built
with pipelined RPUSHes.

Seeds are printed; STRATA_SEED=N replays a run, STRATA_DIFF_COUNT scales it.
"""
import random
import time

from difftest import BASE_SEED, cross_type_command, Cmd, Differ, check_unordered, generator, _arity_error_variant, n, run_diff



# Few distinct elements, so LREM, LPOS and LINSERT find matches often.
ELEMS = [b"a", b"b", b"c", b"a", b"", b"x" * 300, b"\x00\xff", b"1", b"-1", b"sp ace"]

INDEX_EDGES = [b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808",
               b"abc", b"1.5", b"", b" 1", b"+1", b"-0", b"0x1"]
COUNT_EDGES = [b"0", b"-1", b"-9223372036854775808", b"9223372036854775807",
               b"9223372036854775808", b"abc", b"1.0", b"", b"-0", b"+2"]
# Timeouts that never block forever: tiny positive ones, or invalid ones.
TIMEOUTS = [b"0.01", b"0.01", b"0.01", b"0.005", b"-1", b"-0.5", b"abc", b"inf", b"-inf",
            b"1e400", b"1e18", b"nan", b"", b" 1", b"0.01 "]


def elem(ctx):
    return ctx.r.choice(ELEMS[:4]) if ctx.r.random() < 0.7 else ctx.r.choice(ELEMS + [ctx.value()])


def lkey(ctx):
    """Keys: a few lists, now and then any key of the shared key space."""
    return ctx.r.choice([b"k0", b"k1", b"k2"]) if ctx.r.random() < 0.7 else ctx.key()


def index(ctx):
    x = ctx.r.random()
    if x < 0.85:
        return str(ctx.r.randint(-25, 25)).encode()
    if x < 0.93:
        return str(ctx.index()).encode()
    return ctx.r.choice(INDEX_EDGES)


def count(ctx):
    x = ctx.r.random()
    if x < 0.8:
        return str(ctx.r.randint(0, 6)).encode()
    return ctx.r.choice(COUNT_EDGES)


def side(ctx):
    return ctx.r.choice([b"LEFT", b"RIGHT", b"left", b"Right"]) if ctx.r.random() < 0.95 \
        else ctx.r.choice([b"UP", b"", b"LEFTX"])


# --- generators ----------------------------------------------------------------

@generator("list", 6)
def gen_push(ctx):
    k = lkey(ctx)
    name = ctx.r.choice([b"LPUSH", b"RPUSH", b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX"])
    many = 40 if ctx.r.random() < 0.1 else 4
    args = [ctx.cmdname(name), k] + [elem(ctx) for _ in range(ctx.r.randint(1, many))]
    return Cmd(_arity_error_variant(ctx, args, 3), keys=[k], write=True)


@generator("list", 4)
def gen_pop(ctx):
    k = lkey(ctx)
    args = [ctx.cmdname(ctx.r.choice([b"LPOP", b"RPOP"])), k]
    if ctx.r.random() < 0.5:
        args.append(count(ctx))
    if ctx.r.random() < 0.03:
        args.append(b"1")
    return Cmd(args, keys=[k], write=True)


@generator("list", 3)
def gen_read(ctx):
    k = lkey(ctx)
    x = ctx.r.random()
    if x < 0.25:
        return Cmd(_arity_error_variant(ctx, [ctx.cmdname(b"LLEN"), k], 2, 2), keys=[k])
    if x < 0.65:
        return Cmd(_arity_error_variant(ctx, [ctx.cmdname(b"LRANGE"), k, index(ctx), index(ctx)],
                                        4, 4), keys=[k])
    return Cmd(_arity_error_variant(ctx, [ctx.cmdname(b"LINDEX"), k, index(ctx)], 3, 3), keys=[k])


@generator("list", 2)
def gen_lset(ctx):
    k = lkey(ctx)
    return Cmd(_arity_error_variant(ctx, [ctx.cmdname(b"LSET"), k, index(ctx), elem(ctx)], 4, 4),
               keys=[k], write=True)


@generator("list", 1.5)
def gen_ltrim(ctx):
    k = lkey(ctx)
    x = ctx.r.random()
    if x < 0.6:  # usually keep most of the list
        start, stop = str(ctx.r.randint(0, 3)).encode(), str(ctx.r.randint(-4, -1)).encode()
    else:
        start, stop = index(ctx), index(ctx)
    return Cmd(_arity_error_variant(ctx, [ctx.cmdname(b"LTRIM"), k, start, stop], 4, 4),
               keys=[k], write=True)


@generator("list", 2)
def gen_lrem(ctx):
    k = lkey(ctx)
    c = str(ctx.r.randint(-3, 3)).encode() if ctx.r.random() < 0.85 else ctx.r.choice(COUNT_EDGES)
    return Cmd(_arity_error_variant(ctx, [ctx.cmdname(b"LREM"), k, c, elem(ctx)], 4, 4),
               keys=[k], write=True)


@generator("list", 2)
def gen_linsert(ctx):
    k = lkey(ctx)
    where = ctx.r.choice([b"BEFORE", b"AFTER", b"before", b"After"]) if ctx.r.random() < 0.95 \
        else ctx.r.choice([b"MIDDLE", b""])
    return Cmd(_arity_error_variant(ctx, [ctx.cmdname(b"LINSERT"), k, where, elem(ctx), elem(ctx)],
                                    5, 5), keys=[k], write=True)


@generator("list", 2)
def gen_lpos(ctx):
    k = lkey(ctx)
    args = [ctx.cmdname(b"LPOS"), k, elem(ctx)]
    for _ in range(ctx.r.randint(0, 3)):
        opt = ctx.r.choice([b"RANK", b"COUNT", b"MAXLEN", b"rank", b"count", b"maxlen"])
        if opt.upper() == b"RANK":
            v = str(ctx.r.choice([1, 2, 3, -1, -2, -3])).encode() if ctx.r.random() < 0.8 \
                else ctx.r.choice([b"0", b"-9223372036854775808", b"9223372036854775807", b"x"])
        elif opt.upper() == b"COUNT":
            v = str(ctx.r.randint(0, 4)).encode() if ctx.r.random() < 0.85 \
                else ctx.r.choice([b"-1", b"x", b"9223372036854775807"])
        else:
            v = str(ctx.r.randint(0, 10)).encode() if ctx.r.random() < 0.85 \
                else ctx.r.choice([b"-1", b"x", b"9223372036854775807"])
        args += [opt, v]
    if ctx.r.random() < 0.04:
        args.append(ctx.r.choice([b"RANK", b"FOO"]))
    return Cmd(args, keys=[k])


@generator("list", 2)
def gen_move(ctx):
    src, dst = lkey(ctx), lkey(ctx)
    if ctx.r.random() < 0.4:
        args = [ctx.cmdname(b"RPOPLPUSH"), src, dst]
        return Cmd(_arity_error_variant(ctx, args, 3, 3), keys=[src, dst], write=True)
    args = [ctx.cmdname(b"LMOVE"), src, dst, side(ctx), side(ctx)]
    return Cmd(_arity_error_variant(ctx, args, 5, 5), keys=[src, dst], write=True)


@generator("list", 1.5)
def gen_lmpop(ctx):
    ks = [lkey(ctx) for _ in range(ctx.r.randint(1, 3))]
    nk = str(len(ks)).encode()
    x = ctx.r.random()
    if x < 0.08:
        nk = ctx.r.choice([b"0", b"-1", b"x", b"9", b"9223372036854775807"])
    elif x < 0.12:
        nk = str(len(ks) - 1).encode()
    args = [ctx.cmdname(b"LMPOP"), nk] + ks + [side(ctx)]
    if ctx.r.random() < 0.5:
        args += [ctx.r.choice([b"COUNT", b"count"]),
                 str(ctx.r.randint(1, 5)).encode() if ctx.r.random() < 0.8
                 else ctx.r.choice([b"0", b"-1", b"x", b"9223372036854775807"])]
    if ctx.r.random() < 0.05:
        args += [ctx.r.choice([b"COUNT", b"FOO"]), b"1"]
    return Cmd(args, keys=ks, write=True)


@generator("list", 1.5)
def gen_blocking(ctx):
    """Blocking pops in the forms that answer without waiting long: data is
    there, the timeout is tiny, or an argument is wrong."""
    x = ctx.r.random()
    t = ctx.r.choice(TIMEOUTS)
    if x < 0.35:
        ks = [lkey(ctx) for _ in range(ctx.r.randint(1, 3))]
        args = [ctx.cmdname(ctx.r.choice([b"BLPOP", b"BRPOP"]))] + ks + [t]
        return Cmd(args, keys=ks, write=True)
    src, dst = lkey(ctx), lkey(ctx)
    if x < 0.55:
        return Cmd([ctx.cmdname(b"BRPOPLPUSH"), src, dst, t], keys=[src, dst], write=True)
    if x < 0.8:
        return Cmd([ctx.cmdname(b"BLMOVE"), src, dst, side(ctx), side(ctx), t],
                   keys=[src, dst], write=True)
    ks = [lkey(ctx) for _ in range(ctx.r.randint(1, 3))]
    nk = str(len(ks)).encode() if ctx.r.random() < 0.9 else ctx.r.choice([b"0", b"x", b"7"])
    args = [ctx.cmdname(b"BLMPOP"), t, nk] + ks + [side(ctx)]
    if ctx.r.random() < 0.5:
        args += [b"COUNT", str(ctx.r.randint(1, 4)).encode() if ctx.r.random() < 0.85 else b"0"]
    return Cmd(args, keys=ks, write=True)


# --- tests -----------------------------------------------------------------------

@generator("list-mix")
def gen_list_cross_type(ctx):
    return cross_type_command(ctx, key=lkey)


def test_list_diff(pair):
    node, ref = pair
    assert run_diff(node, ref, BASE_SEED, n(6000), families=["list"])[1] == n(6000)


def test_list_diff_with_other_types(pair):
    """Lists mixed with strings and key commands: WRONGTYPE both ways,
    EXPIRE/RENAME/DEL on lists, overwrite by SET."""
    node, ref = pair
    assert run_diff(node, ref, BASE_SEED + 1, n(4000), families=["list", "list-mix"],
                    weights={"list": 5.0})[1] == n(4000)


def test_list_exact_edge_cases(pair):
    node, ref = pair
    d = Differ(node.port, ref.port, seed=BASE_SEED)
    try:
        script = [
            [b"RPUSH", b"l", b"a", b"b", b"c", b"a", b"b", b"c", b"a"],
            [b"LPOP", b"l", b"0"], [b"LPOP", b"missing", b"0"], [b"LPOP", b"missing"],
            [b"LPOP", b"missing", b"1"], [b"RPOP", b"l", b"-1"], [b"RPOP", b"l", b"x"],
            [b"LPOP", b"l", b"1", b"2"],
            [b"LRANGE", b"l", b"0", b"-1"], [b"LRANGE", b"l", b"-100", b"100"],
            [b"LRANGE", b"l", b"5", b"2"], [b"LRANGE", b"l", b"7", b"100"],
            [b"LRANGE", b"l", b"-9223372036854775808", b"9223372036854775807"],
            [b"LRANGE", b"l", b"-1", b"-1"], [b"LRANGE", b"missing", b"0", b"-1"],
            [b"LRANGE", b"missing", b"x", b"0"],
            [b"LINDEX", b"l", b"-1"], [b"LINDEX", b"l", b"-7"], [b"LINDEX", b"l", b"-8"],
            [b"LINDEX", b"l", b"7"], [b"LINDEX", b"missing", b"x"], [b"LINDEX", b"l", b"x"],
            [b"LSET", b"l", b"-1", b"Z"], [b"LSET", b"l", b"7", b"Z"], [b"LSET", b"missing", b"x", b"Z"],
            [b"LSET", b"l", b"x", b"Z"],
            [b"LPOS", b"l", b"a"], [b"LPOS", b"l", b"a", b"RANK", b"-1"],
            [b"LPOS", b"l", b"a", b"RANK", b"2", b"COUNT", b"0"],
            [b"LPOS", b"l", b"a", b"RANK", b"-2", b"COUNT", b"1", b"MAXLEN", b"5"],
            [b"LPOS", b"l", b"a", b"RANK", b"-9223372036854775808"],
            [b"LPOS", b"l", b"a", b"RANK", b"-9223372036854775808", b"COUNT", b"2"],
            [b"LPOS", b"l", b"a", b"RANK", b"0"], [b"LPOS", b"l", b"a", b"COUNT", b"-1"],
            [b"LPOS", b"l", b"a", b"MAXLEN", b"-1"], [b"LPOS", b"l", b"a", b"MAXLEN", b"1"],
            [b"LPOS", b"l", b"zz", b"COUNT", b"3"], [b"LPOS", b"missing", b"a", b"COUNT", b"3"],
            [b"LPOS", b"l", b"a", b"RANK"], [b"LPOS", b"l", b"a", b"FOO", b"1"],
            [b"LINSERT", b"l", b"BEFORE", b"a", b"N"], [b"LINSERT", b"l", b"AFTER", b"Z", b"N"],
            [b"LINSERT", b"l", b"AFTER", b"nope", b"N"], [b"LINSERT", b"missing", b"AFTER", b"a", b"N"],
            [b"LINSERT", b"l", b"MIDDLE", b"a", b"N"],
            [b"LRANGE", b"l", b"0", b"-1"],
            [b"LREM", b"l", b"-1", b"a"], [b"LREM", b"l", b"1", b"N"], [b"LREM", b"l", b"0", b"b"],
            [b"LREM", b"l", b"x", b"b"], [b"LREM", b"missing", b"0", b"b"],
            [b"LRANGE", b"l", b"0", b"-1"],
            [b"LTRIM", b"l", b"1", b"-2"], [b"LRANGE", b"l", b"0", b"-1"],
            [b"LTRIM", b"l", b"5", b"1"], [b"EXISTS", b"l"], [b"LTRIM", b"missing", b"0", b"1"],
            [b"LTRIM", b"missing", b"x", b"1"],
            [b"RPUSH", b"r", b"1", b"2", b"3"], [b"LMOVE", b"r", b"r", b"LEFT", b"RIGHT"],
            [b"LRANGE", b"r", b"0", b"-1"], [b"RPOPLPUSH", b"r", b"r2"], [b"LMOVE", b"r", b"r2", b"UP", b"LEFT"],
            [b"SET", b"str", b"v"], [b"LMOVE", b"r", b"str", b"LEFT", b"LEFT"],
            [b"LMOVE", b"missing", b"str", b"LEFT", b"LEFT"], [b"LMOVE", b"str", b"r", b"LEFT", b"LEFT"],
            [b"RPUSH", b"one", b"x"], [b"EXPIRE", b"one", b"1000"],
            [b"LMOVE", b"one", b"one", b"LEFT", b"LEFT"], [b"TTL", b"one"],
            [b"LMPOP", b"2", b"missing", b"r", b"LEFT", b"COUNT", b"10"], [b"LMPOP", b"1", b"r", b"LEFT"],
            [b"LMPOP", b"2", b"str", b"r", b"LEFT"], [b"LMPOP", b"0", b"r", b"LEFT"],
            [b"LMPOP", b"3", b"r", b"LEFT"], [b"LMPOP", b"1", b"r", b"LEFT", b"COUNT", b"0"],
            [b"LMPOP", b"1", b"r", b"LEFT", b"COUNT", b"1", b"COUNT", b"1"],
            [b"LPUSH", b"str", b"a"], [b"LPUSHX", b"missing", b"a"], [b"RPUSHX", b"r2", b"a", b"b"],
            [b"LLEN", b"str"], [b"LLEN", b"r2"], [b"LINDEX", b"str", b"0"], [b"LRANGE", b"str", b"0", b"1"],
            [b"BLPOP", b"r2", b"-1"], [b"BLPOP", b"r2", b"x"], [b"BLPOP", b"r2", b"inf"],
            [b"BLPOP", b"r2", b"1e400"], [b"BLPOP", b"missing", b"str", b"1"], [b"BLPOP", b"r2", b"0"],
            [b"BRPOP", b"missing", b"r2", b"0"], [b"BRPOPLPUSH", b"r2", b"dst", b"0"],
            [b"BLMOVE", b"dst", b"r2", b"LEFT", b"BAD", b"0"], [b"BLMOVE", b"dst", b"str", b"LEFT", b"LEFT", b"0"],
            [b"BLMPOP", b"0", b"2", b"missing", b"dst", b"RIGHT", b"COUNT", b"5"],
            [b"BLMPOP", b"x", b"1", b"missing", b"RIGHT"], [b"BLMPOP", b"0", b"0", b"missing", b"RIGHT"],
            [b"BLPOP", b"missing", b"0.01"], [b"BLMOVE", b"missing", b"x", b"LEFT", b"LEFT", b"0.01"],
            [b"BRPOPLPUSH", b"missing", b"x", b"0.01"],
            [b"BLMPOP", b"0.01", b"1", b"missing", b"LEFT"],
            [b"RPUSH", b"t", b"0", b"1", b"2", b"3", b"4", b"5", b"6", b"7", b"8", b"9"],
            [b"EXPIRE", b"t", b"1000"], [b"LTRIM", b"t", b"2", b"3"], [b"TTL", b"t"],
            [b"LRANGE", b"t", b"0", b"-1"], [b"RPUSH", b"t", b"x", b"y"], [b"LTRIM", b"t", b"1", b"-1"],
            [b"TTL", b"t"], [b"LRANGE", b"t", b"0", b"-1"], [b"LREM", b"t", b"0", b"x"],
            [b"LINSERT", b"t", b"BEFORE", b"y", b"w"], [b"TTL", b"t"], [b"LRANGE", b"t", b"0", b"-1"],
            [b"DBSIZE"], [b"KEYS", b"*"],
        ]
        for i, args in enumerate(script):
            check = check_unordered if args[0] == b"KEYS" else None
            d.execute(Cmd(args, keys=[args[1]] if len(args) > 1 else [], write=True, check=check), i)
    finally:
        d.close()


def test_list_long_middle_edits(pair):
    """Lists of a few thousand elements edited in the middle, so that
    LINSERT and LREM shift on either side and LTRIM takes both of its paths
    (delete the trimmed part, or rebuild from the kept part); every step is
    compared, and the whole lists after each edit."""
    node, ref = pair
    d = Differ(node.port, ref.port, seed=BASE_SEED + 2)
    rnd = random.Random(BASE_SEED + 2)
    print(f"long list edits: seed {BASE_SEED + 2}")
    try:
        i = 0
        for key in (b"long1", b"long2"):
            for _ in range(6):
                args = [b"RPUSH", key] + [rnd.choice([b"a", b"b", b"c", b"d%d" % rnd.randrange(50)])
                                          for _ in range(500)]
                d.execute(Cmd(args, keys=[key], write=True), i)
                i += 1
        for step in range(300):
            key = rnd.choice([b"long1", b"long2"])
            x = rnd.random()
            e = rnd.choice([b"a", b"b", b"c", b"d%d" % rnd.randrange(50), b"new"])
            if x < 0.3:
                args = [b"LINSERT", key, rnd.choice([b"BEFORE", b"AFTER"]), e, b"ins%d" % step]
            elif x < 0.55:
                args = [b"LREM", key, str(rnd.choice([1, 2, 5, -1, -3, 0, 0])).encode(), e]
            elif x < 0.7:
                args = [b"LSET", key, str(rnd.randint(-3000, 3000)).encode(), b"set%d" % step]
            elif x < 0.78:
                a = rnd.randint(-50, 50)
                args = [b"LTRIM", key, str(max(a, 0) if rnd.random() < 0.5 else a).encode(),
                        str(rnd.randint(-60, -1)).encode()]
            elif x < 0.82:
                args = [b"LTRIM", key, str(rnd.randint(0, 200)).encode(),
                        str(rnd.randint(200, 260)).encode()]
            elif x < 0.9:
                args = [b"LPOS", key, e, b"RANK", str(rnd.choice([1, 2, -1, -2])).encode(), b"COUNT",
                        str(rnd.randint(0, 5)).encode()]
            else:
                args = [b"RPUSH", key] + [rnd.choice([b"a", b"b", b"c"]) for _ in range(300)]
            d.execute(Cmd(args, keys=[key], write=True), i)
            d.execute(Cmd([b"LRANGE", key, b"0", b"-1"], keys=[key]), i + 1)
            d.execute(Cmd([b"LLEN", key], keys=[key]), i + 2)
            i += 3
    finally:
        d.close()


def test_list_million_elements(cluster):
    """1,000,000 elements written with pipelined 1000-element RPUSHes; the
    middle is reached by LINDEX and LRANGE; DEL answers and the key is gone."""
    node = cluster.node()
    c = node.client(socket_timeout=120)
    t0 = time.monotonic()
    total, batch = 1_000_000, 1000
    pipe = c.pipeline(transaction=False)
    for start in range(0, total, batch):
        pipe.execute_command("RPUSH", "big", *[b"e%07d" % i for i in range(start, start + batch)])
        if (start // batch) % 50 == 49:
            replies = pipe.execute()
            assert replies[-1] == start + batch
            assert time.monotonic() - t0 < 600, "building the list took too long"
    pipe.execute()
    print(f"1,000,000 RPUSH elements in {time.monotonic() - t0:.1f}s")
    assert c.llen("big") == total
    rnd = random.Random(BASE_SEED)
    for i in [0, 1, total // 2, total - 1] + [rnd.randrange(total) for _ in range(200)]:
        assert c.lindex("big", i) == b"e%07d" % i
        assert c.lindex("big", i - total) == b"e%07d" % i
    assert c.lindex("big", total) is None
    mid = total // 2
    assert c.lrange("big", mid, mid + 99) == [b"e%07d" % i for i in range(mid, mid + 100)]
    assert c.lrange("big", -mid - 5, -mid + 4) == [b"e%07d" % i for i in range(mid - 5, mid + 5)]
    assert c.lpush("big", "head") == total + 1
    assert c.lindex("big", mid + 1) == b"e%07d" % mid
    assert c.lpop("big") == b"head"
    assert c.lpos("big", b"e0000007", maxlen=100) == 7
    t1 = time.monotonic()
    assert c.delete("big") == 1
    print(f"DEL of the 1,000,000-element list: {(time.monotonic() - t1) * 1000:.2f} ms (round trip)")
    assert c.exists("big") == 0
    assert c.llen("big") == 0
    assert c.lindex("big", 5) is None
    assert c.rpush("big", "a") == 1 and c.lrange("big", 0, -1) == [b"a"]  # fresh, no stale elements
