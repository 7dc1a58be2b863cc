"""Set commands on strata-node: differential runs against redis-server
(every set command, with wrong types, missing keys, duplicate members,
binary data, huge and negative counts), random commands (SPOP,
SRANDMEMBER) and SSCAN checked by property, set algebra on big sets, and a
1,000,000-member set built with pipelined SADDs.

Seeds are printed; STRATA_SEED=N replays a run, STRATA_DIFF_COUNT scales it.
"""
import random
import time


from difftest import scan_all, BASE_SEED, cross_type_command, Cmd, Differ, Error, generator, _arity_error_variant, n, run_diff


# Integers make Redis use its intset encoding, the others its listpack or
# hash table: replies must not depend on that.
MEMBERS = [b"a", b"b", b"c", b"1", b"2", b"10", b"-5", b"", b"\x00bin\xff", b"sp ace",
           b"y" * 200, b"\xc3\xa9", b"9223372036854775808"]


def member(ctx):
    if ctx.r.random() < 0.75:
        return ctx.r.choice(MEMBERS[:7])
    return ctx.r.choice(MEMBERS)


def members(conn, key):
    r = conn.call(b"SMEMBERS", key)
    return set(r) if isinstance(r, list) else None


# --- property checks -----------------------------------------------------------

def check_sorted(differ, cmd, a, b):
    if not isinstance(a, list) or not isinstance(b, list):
        return None if a == b else "replies differ"
    if len(set(a)) != len(a):
        return "repeated member"
    return None if sorted(a) == sorted(b) else "different members"


def check_store(differ, cmd, a, b):
    """*STORE: the same count, and the destinations hold the same members."""
    if a != b:
        return "replies differ"
    dst = cmd.args[1]
    ma, mb = members(differ.a, dst), members(differ.b, dst)
    return None if ma == mb else f"destination differs: {sorted(ma or ())!r:.200} vs {sorted(mb or ())!r:.200}"


def check_srandmember(differ, cmd, a, b):
    if isinstance(a, Error) or isinstance(b, Error) or a is None or b is None or b == []:
        return None if a == b else "replies differ"
    s = members(differ.b, cmd.args[1])
    if len(cmd.args) == 2:
        return None if isinstance(a, bytes) and a in s else f"{a!r} is not a member"
    if not isinstance(a, list):
        return "not an array"
    count = int(cmd.args[2])
    if any(m not in s for m in a):
        return "a reply element is not a member"
    want = min(count, len(s)) if count > 0 else -count
    if len(a) != want:
        return f"{len(a)} members, expected {want}"
    if count > 0 and len(set(a)) != len(a):
        return "repeated member for a positive count"
    return None


def check_spop(differ, cmd, a, b):
    """The servers pop different members.  Check that each popped the
    right number of distinct members from the same set, then make the
    reference's set equal to strata's (put its members back, remove
    strata's) so the run goes on from one state."""
    if isinstance(a, Error) or isinstance(b, Error) or a is None or b is None or b == []:
        return None if a == b else "replies differ"
    key = cmd.args[1]
    pa = [a] if isinstance(a, bytes) else a
    pb = [b] if isinstance(b, bytes) else b
    if not isinstance(pa, list):
        return "not an array"
    if len(pa) != len(pb):
        return f"popped {len(pa)}, reference popped {len(pb)}"
    if len(set(pa)) != len(pa):
        return "popped a member twice"
    ra, rb = members(differ.a, key), members(differ.b, key)
    if ra is None or rb is None:
        return "SMEMBERS failed after SPOP"
    if ra & set(pa):
        return "a popped member is still in the set"
    if ra | set(pa) != rb | set(pb):
        return "the set before SPOP differs"
    if set(pa) != set(pb):
        differ.b.call(b"SADD", key, *pb)
        differ.b.call(b"SREM", key, *pa)
    return None


def check_sscan(differ, cmd, a, b):
    if isinstance(a, Error) or isinstance(b, Error):
        return None if a == b else "replies differ"
    found = []
    for conn, first in ((differ.a, a), (differ.b, b)):
        seen, err = scan_all(conn, cmd.args, first)
        if err:
            return err
        found.append(set(seen))
    return None if found[0] == found[1] else \
        f"SSCAN differs: {sorted(found[0])!r:.300} vs {sorted(found[1])!r:.300}"


# --- generators ------------------------------------------------------------------

@generator("set", 3)
def gen_sadd(ctx):
    k = ctx.key()
    args = [ctx.cmdname(b"SADD"), k] + [member(ctx) for _ in range(ctx.r.randint(1, 5))]
    return Cmd(_arity_error_variant(ctx, args, 3), keys=[k], write=True)


@generator("set", 1.5)
def gen_srem(ctx):
    k = ctx.key()
    args = [b"SREM", k] + [member(ctx) for _ in range(ctx.r.randint(1, 4))]
    return Cmd(_arity_error_variant(ctx, args, 3), keys=[k], write=True)


@generator("set", 2)
def gen_sread(ctx):
    k = ctx.key()
    x = ctx.r.random()
    if x < 0.3:
        return Cmd(_arity_error_variant(ctx, [b"SISMEMBER", k, member(ctx)], 3, 3), keys=[k])
    if x < 0.55:
        args = [b"SMISMEMBER", k] + [member(ctx) for _ in range(ctx.r.randint(1, 5))]
        return Cmd(_arity_error_variant(ctx, args, 3), keys=[k])
    if x < 0.8:
        return Cmd(_arity_error_variant(ctx, [b"SCARD", k], 2, 2), keys=[k])
    return Cmd(_arity_error_variant(ctx, [b"SMEMBERS", k], 2, 2), keys=[k], check=check_sorted)


@generator("set", 1.5)
def gen_spop(ctx):
    k = ctx.key()
    x = ctx.r.random()
    if x < 0.35:
        args = [b"SPOP", k]
    elif x < 0.9:
        args = [b"SPOP", k, ctx.r.choice([0, 1, 2, 3, 5, 100, 9223372036854775807])]
    else:
        args = ctx.r.choice([[b"SPOP", k, -1], [b"SPOP", k, b"abc"], [b"SPOP", k, 1, 2],
                             [b"SPOP", k, b"-9223372036854775808"], [b"SPOP"]])
        return Cmd(args, keys=[k], write=True)
    return Cmd(args, keys=[k], write=True, check=check_spop)


@generator("set", 1.5)
def gen_srandmember(ctx):
    k = ctx.key()
    x = ctx.r.random()
    if x < 0.2:
        return Cmd([b"SRANDMEMBER", k], keys=[k], check=check_srandmember)
    if x < 0.92:
        count = ctx.r.randint(-12, 12) if ctx.r.random() < 0.85 else \
            ctx.r.choice([0, 9223372036854775807, 1000000])
        return Cmd([b"SRANDMEMBER", k, count], keys=[k], check=check_srandmember)
    args = ctx.r.choice([[b"SRANDMEMBER", k, b"abc"], [b"SRANDMEMBER", k, 1, 2],
                         [b"SRANDMEMBER", k, b"-9223372036854775808"],
                         [b"SRANDMEMBER", k, b"9223372036854775808"], [b"SRANDMEMBER"]])
    return Cmd(args, keys=[k])


@generator("set")
def gen_smove(ctx):
    src = ctx.key()
    dst = src if ctx.r.random() < 0.1 else ctx.key()
    return Cmd(_arity_error_variant(ctx, [b"SMOVE", src, dst, member(ctx)], 4, 4),
               keys=[src, dst], write=True)


@generator("set", 2)
def gen_setop(ctx):
    keys = ctx.keys(1, 4)
    name = ctx.r.choice([b"SINTER", b"SUNION", b"SDIFF"])
    return Cmd(_arity_error_variant(ctx, [ctx.cmdname(name)] + keys, 2), keys=keys,
               check=check_sorted)


@generator("set", 1.5)
def gen_setop_store(ctx):
    keys = ctx.keys(1, 4)
    dst = ctx.r.choice(keys) if ctx.r.random() < 0.3 else ctx.key()  # dst may be a source
    name = ctx.r.choice([b"SINTERSTORE", b"SUNIONSTORE", b"SDIFFSTORE"])
    args = [name, dst] + keys
    if ctx.r.random() < 0.04:
        return Cmd([name, dst], keys=[dst], write=True)
    return Cmd(args, keys=[dst] + keys, write=True, check=check_store)


@generator("set")
def gen_sintercard(ctx):
    keys = ctx.keys(1, 4)
    args = [b"SINTERCARD", len(keys)] + keys
    if ctx.r.random() < 0.4:
        args += [b"LIMIT", ctx.r.choice([0, 1, 2, 3, 100])]
    if ctx.r.random() < 0.15:
        args = ctx.r.choice([
            [b"SINTERCARD", 0] + keys, [b"SINTERCARD", -1] + keys, [b"SINTERCARD", b"x"] + keys,
            [b"SINTERCARD", len(keys) + 1] + keys, [b"SINTERCARD", len(keys)] + keys + [b"LIMIT"],
            [b"SINTERCARD", len(keys)] + keys + [b"LIMIT", -1],
            [b"SINTERCARD", len(keys)] + keys + [b"LIMIT", b"x"],
            [b"SINTERCARD", len(keys)] + keys + [b"FOO", 1],
            [b"SINTERCARD", 1] + keys + [b"LIMIT", 1],
            [b"SINTERCARD", len(keys)] + keys + [b"LIMIT", 1, b"LIMIT", 0],
            [b"SINTERCARD", b"9223372036854775808"] + keys, [b"SINTERCARD", 1]])
    return Cmd(args, keys=keys)


@generator("set")
def gen_sscan(ctx):
    k = ctx.key()
    args = [b"SSCAN", k, b"0"]
    if ctx.r.random() < 0.4:
        args += [b"MATCH", ctx.r.choice([b"*", b"?", b"[a-c]", b"1*", b"\\*", b"*e*"])]
    if ctx.r.random() < 0.5:
        args += [b"COUNT", ctx.r.choice([1, 2, 3, 10, 1000])]
    if ctx.r.random() < 0.1:
        args = ctx.r.choice([[b"SSCAN", k, b"abc"], [b"SSCAN", k, b"0", b"COUNT", 0],
                             [b"SSCAN", k, b"0", b"COUNT", b"x"], [b"SSCAN", k, b"0", b"FOO", 1],
                             [b"SSCAN", k, b"0", b"MATCH"], [b"SSCAN", k, b"0", b"TYPE", b"set"],
                             [b"SSCAN", k]])
        return Cmd(args, keys=[k])
    return Cmd(args, keys=[k], check=check_sscan)


@generator("set-mix")
def gen_set_cross_type(ctx):
    return cross_type_command(ctx)


# --- tests -------------------------------------------------------------------------

def test_set_diff(pair):
    node, ref = pair
    assert run_diff(node, ref, BASE_SEED, n(5000), families=["set"])[1] == n(5000)


def test_set_diff_with_other_types(pair):
    node, ref = pair
    run_diff(node, ref, BASE_SEED + 1, n(4000), families=["set", "set-mix"],
             weights={"set": 4.0})


def test_set_exact_edge_cases(pair):
    node, ref = pair
    d = Differ(node.port, ref.port, seed=BASE_SEED)
    try:
        script = [
            [b"SADD", b"s", b"a", b"a", b"b", b"", b"\x00\xff"], [b"SCARD", b"s"],
            [b"SREM", b"s", b"a", b"a", b"zz"], [b"SISMEMBER", b"s", b""],
            [b"SMISMEMBER", b"s", b"a", b"b", b"b"], [b"SMISMEMBER", b"nokey", b"a"],
            [b"SET", b"str", b"v"], [b"SADD", b"str", b"a"], [b"SCARD", b"str"],
            [b"SMOVE", b"nokey", b"str", b"a"], [b"SMOVE", b"s", b"str", b"b"],
            [b"SMOVE", b"str", b"s", b"b"], [b"SMOVE", b"s", b"s", b"b"],
            [b"SMOVE", b"s", b"s", b"zz"], [b"SMOVE", b"s", b"t", b"b"], [b"SCARD", b"t"],
            [b"SMOVE", b"s", b"t", b"zz"], [b"SINTER", b"nokey", b"str"],
            [b"SUNION", b"nokey", b"str"], [b"SDIFF", b"nokey", b"str"],
            [b"SINTERSTORE", b"str", b"nokey"], [b"TYPE", b"str"], [b"SET", b"str", b"v"],
            [b"SUNIONSTORE", b"str", b"s", b"t"], [b"TYPE", b"str"], [b"SCARD", b"str"],
            [b"SDIFFSTORE", b"t", b"t", b"s"], [b"SCARD", b"t"], [b"SDIFFSTORE", b"t", b"t"],
            [b"EXISTS", b"t"], [b"SINTERCARD", b"2", b"nokey", b"s"],
            [b"SINTERCARD", b"1", b"s", b"LIMIT", b"0"], [b"SINTERCARD", b"0", b"s"],
            [b"SINTERCARD", b"abc", b"s"], [b"SINTERCARD", b"3", b"s"],
            [b"SINTERCARD", b"1", b"s", b"LIMIT", b"-1"], [b"SINTERCARD", b"1", b"str"],
            [b"SPOP", b"s", b"0"], [b"SPOP", b"nokey", b"0"], [b"SPOP", b"nokey"],
            [b"SPOP", b"s", b"-1"], [b"SPOP", b"str", b"-1"], [b"SPOP", b"s", b"1", b"2"],
            [b"SRANDMEMBER", b"nokey", b"0"], [b"SRANDMEMBER", b"nokey"],
            [b"SRANDMEMBER", b"nokey", b"-5"], [b"SRANDMEMBER", b"str", b"abc"],
            [b"SRANDMEMBER", b"s", b"-9223372036854775808"], [b"SRANDMEMBER", b"s", b"0"],
            [b"SSCAN", b"nokey", b"0", b"COUNT", b"0"], [b"SSCAN", b"nokey", b"abc"],
            [b"SSCAN", b"str", b"0"], [b"SSCAN", b"s", b"0", b"COUNT", b"0"],
            [b"SADD", b"e", b"x"], [b"SREM", b"e", b"x"], [b"EXISTS", b"e"],
            [b"EXPIRE", b"s", b"100"], [b"SADD", b"s", b"q"], [b"TTL", b"s"],
            [b"SUNIONSTORE", b"s", b"s"], [b"TTL", b"s"],
        ]
        for i, args in enumerate(script):
            check = {b"SSCAN": check_sscan, b"SMEMBERS": check_sorted}.get(args[0])
            if check and args[1] == b"nokey":
                check = None
            d.execute(Cmd(args, keys=[args[1]] if len(args) > 1 else [], write=True,
                          check=check), i)
    finally:
        d.close()


def _fill(p, key, items):
    c = p.client()
    items = list(items)
    for i in range(0, len(items), 1000):
        c.sadd(key, *items[i:i + 1000])


def test_set_algebra_on_big_sets(pair):
    """Sets of thousands of members with overlaps of every kind, on both
    servers: the algebra (and its STORE forms, with the destination among
    the sources) must agree."""
    node, ref = pair
    rnd = random.Random(BASE_SEED)
    print(f"seed {BASE_SEED}")
    universe = [b"m%d" % i for i in range(20000)] + [bytes([i]) for i in range(256)]
    sets = {
        b"A": rnd.sample(universe, 6000),
        b"B": rnd.sample(universe, 3000),
        b"C": [m for i, m in enumerate(universe) if i % 3 == 0][:5000],
        b"D": rnd.sample(universe, 40),
    }
    for p in (node, ref):
        for k, v in sets.items():
            _fill(p, k, v)
    d = Differ(node.port, ref.port, seed=BASE_SEED, flush=False)
    try:
        combos = [[b"A"], [b"A", b"B"], [b"B", b"A"], [b"A", b"B", b"C"], [b"D", b"A", b"C"],
                  [b"A", b"nokey"], [b"nokey", b"A"], [b"A", b"A"], [b"C", b"B", b"D", b"A"]]
        i = 0
        for keys in combos:
            for name in (b"SINTER", b"SUNION", b"SDIFF"):
                d.execute(Cmd([name] + keys, keys=keys, check=check_sorted), i)
                i += 1
            d.execute(Cmd([b"SINTERCARD", len(keys)] + keys, keys=keys), i)
            d.execute(Cmd([b"SINTERCARD", len(keys)] + keys + [b"LIMIT", 17], keys=keys), i)
            for name in (b"SINTERSTORE", b"SUNIONSTORE", b"SDIFFSTORE"):
                d.execute(Cmd([name, b"dst"] + keys, keys=[b"dst"] + keys, write=True,
                              check=check_store), i)
                i += 1
        # The destination is one of the sources.
        for name in (b"SDIFFSTORE", b"SINTERSTORE", b"SUNIONSTORE"):
            d.execute(Cmd([name, b"B", b"B", b"D"], keys=[b"B", b"D"], write=True,
                          check=check_store), i)
            d.execute(Cmd([b"SCARD", b"B"], keys=[b"B"]), i)
        for opts in ([], [b"COUNT", 13], [b"MATCH", b"m1*", b"COUNT", 100]):
            d.execute(Cmd([b"SSCAN", b"A", b"0"] + opts, keys=[b"A"], check=check_sscan), i)
        for args in ([b"SRANDMEMBER", b"A"], [b"SRANDMEMBER", b"A", 5], [b"SRANDMEMBER", b"A", 2000],
                     [b"SRANDMEMBER", b"A", 5999], [b"SRANDMEMBER", b"A", 7000],
                     [b"SRANDMEMBER", b"A", -100]):
            for _ in range(3):
                d.execute(Cmd(args, keys=[b"A"], check=check_srandmember), i)
        for args in ([b"SPOP", b"A"], [b"SPOP", b"A", 7], [b"SPOP", b"A", 1000], [b"SPOP", b"A", 3000],
                     [b"SCARD", b"A"], [b"SPOP", b"A", 5000], [b"EXISTS", b"A"]):
            d.execute(Cmd(args, keys=[b"A"], write=True,
                          check=check_spop if args[0] == b"SPOP" else None), i)
    finally:
        d.close()


def test_srandmember_spread(cluster):
    """Random members are spread over the whole set, both in a small set
    (walked: exact) and in a big one (probed)."""
    node = cluster.node()
    c = node.client()
    c.sadd("small", *[b"%d" % i for i in range(10)])
    counts = {}
    for _ in range(2000):
        m = c.srandmember("small")
        counts[m] = counts.get(m, 0) + 1
    print(f"small set, 2000 draws: {sorted(counts.values())}")
    assert set(counts) == {b"%d" % i for i in range(10)}
    assert min(counts.values()) > 100  # expectation 200 each
    rnd = random.Random(BASE_SEED)
    big = [rnd.randbytes(12) for _ in range(5000)]
    c.sadd("big", *big)
    got = c.srandmember("big", -20000)
    assert len(got) == 20000 and set(got) <= set(big)
    print(f"big set, 20000 draws with repetition: {len(set(got))} distinct of 5000")
    assert len(set(got)) > 3000  # uniform draws would reach about 4908
    popped = set()
    while c.scard("big"):
        part = c.spop("big", 700)
        assert not popped & set(part)
        popped.update(part)
    assert popped == set(big) and c.exists("big") == 0


def test_set_million_members(cluster):
    """1,000,000 members added with pipelined 1000-member SADDs; membership
    checks; DEL answers at once and the key is gone."""
    node = cluster.node()
    c = node.client(socket_timeout=120)
    t0 = time.monotonic()
    total, batch = 1_000_000, 1000
    pipe = c.pipeline(transaction=False)
    for start in range(0, total, batch):
        pipe.execute_command("SADD", "big", *[b"member:%07d" % i for i in range(start, start + batch)])
        if (start // batch) % 50 == 49:
            assert sum(pipe.execute()) == 50 * batch
            assert time.monotonic() - t0 < 600, "building the set took too long"
    pipe.execute()
    print(f"1,000,000 SADD members in {time.monotonic() - t0:.1f}s")
    assert c.scard("big") == total
    rnd = random.Random(BASE_SEED)
    for i in [0, total - 1] + [rnd.randrange(total) for _ in range(200)]:
        assert c.sismember("big", b"member:%07d" % i) is True
    assert c.sismember("big", "member:1000000") is False
    assert c.sadd("big", "member:0000005", "extra") == 1
    assert c.scard("big") == total + 1
    sample = c.srandmember("big", 50)
    assert len(sample) == 50 and len(set(sample)) == 50
    assert all(c.sismember("big", m) for m in sample[:10])
    assert c.sintercard(2, ["big", "nokey"]) == 0
    assert c.sintercard(1, ["big"], limit=1000) == 1000
    t1 = time.monotonic()
    assert c.delete("big") == 1
    print(f"DEL of the 1,000,000-member set: {(time.monotonic() - t1) * 1000:.2f} ms (round trip)")
    assert c.exists("big") == 0
    assert c.scard("big") == 0
    assert c.sismember("big", "member:0000001") is False
    assert c.sadd("big", "a") == 1 and c.smembers("big") == {b"a"}
