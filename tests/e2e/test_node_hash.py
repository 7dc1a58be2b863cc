"""Hash commands on strata-node: differential runs against redis-server
(every hash command, with wrong types, missing keys, duplicate fields,
binary data and number edge cases), HRANDFIELD and HSCAN checked by
property, a hash big enough for the sampling and scan paths that skip the
walk, and a 1,000,000-field hash built with pipelined HSETs.

Seeds are printed; STRATA_SEED=N replays a run, STRATA_DIFF_COUNT scales it.
"""
import random
import time


from difftest import pairs_of, scan_all, BASE_SEED, cross_type_command, Cmd, Differ, Error, generator, _arity_error_variant, n, run_diff


FIELDS = [b"f0", b"f1", b"f2", b"f3", b"a", b"1", b"-7", b"", b"\x00bin\xff", b"sp ace",
          b"x" * 300, b"\xc3\xa9"]


def field(ctx):
    if ctx.r.random() < 0.8:
        return ctx.r.choice(FIELDS[:6])
    return ctx.r.choice(FIELDS)


def hgetall(conn, key):
    r = conn.call(b"HGETALL", key)
    return dict(pairs_of(r)) if isinstance(r, list) else None


# --- property checks -----------------------------------------------------------

def check_pairs_unordered(differ, cmd, a, b):
    """HGETALL: the same field/value pairs in any order."""
    if not isinstance(a, list) or not isinstance(b, list):
        return None if a == b else "replies differ"
    if len(a) % 2:
        return "odd number of elements"
    return None if sorted(pairs_of(a)) == sorted(pairs_of(b)) else "different pairs"


def check_sorted(differ, cmd, a, b):
    if not isinstance(a, list) or not isinstance(b, list):
        return None if a == b else "replies differ"
    return None if sorted(a) == sorted(b) else "different elements"


def check_hrandfield(differ, cmd, a, b):
    """Random fields: right count, distinct for a positive count, every
    field (and value) really in the hash (both sides hold the same hash)."""
    if isinstance(a, Error) or isinstance(b, Error) or a is None or b is None or b == []:
        return None if a == b else "replies differ"
    h = hgetall(differ.b, cmd.args[1])
    if len(cmd.args) == 2:
        return None if isinstance(a, bytes) and a in h else f"{a!r} is not a field"
    count = int(cmd.args[2])
    if not isinstance(a, list):
        return "not an array"
    withvalues = len(cmd.args) == 4
    if withvalues:
        if len(a) % 2:
            return "odd number of elements WITHVALUES"
        for f, v in pairs_of(a):
            if h.get(f) != v:
                return f"pair {f!r}={v!r:.40} not in the hash"
        got = [f for f, _ in pairs_of(a)]
    else:
        got = a
        for f in got:
            if f not in h:
                return f"{f!r} is not a field"
    want = min(count, len(h)) if count > 0 else -count
    if len(got) != want:
        return f"{len(got)} fields, expected {want}"
    if count > 0 and len(set(got)) != len(got):
        return "repeated field for a positive count"
    return None


def check_hscan(differ, cmd, a, b):
    if isinstance(a, Error) or isinstance(b, Error):
        return None if a == b else "replies differ"
    found = []
    for conn, first in ((differ.a, a), (differ.b, b)):
        seen, err = scan_all(conn, cmd.args, first, pairs=True)
        if err:
            return err
        found.append(dict(pairs_of(seen)))
    return None if found[0] == found[1] else \
        f"HSCAN differs: {sorted(found[0].items())!r:.300} vs {sorted(found[1].items())!r:.300}"


# --- generators ------------------------------------------------------------------

@generator("hash", 3)
def gen_hset(ctx):
    k = ctx.key()
    name = ctx.r.choice([b"HSET", b"HSET", b"HMSET"])
    args = [ctx.cmdname(name), k]
    for _ in range(ctx.r.randint(1, 4)):
        args += [field(ctx), ctx.value()]
    if ctx.r.random() < 0.06:
        args.append(field(ctx))  # odd: arity error
    return Cmd(_arity_error_variant(ctx, args, 4), keys=[k], write=True)


@generator("hash")
def gen_hsetnx(ctx):
    k = ctx.key()
    return Cmd(_arity_error_variant(ctx, [b"HSETNX", k, field(ctx), ctx.value()], 4, 4),
               keys=[k], write=True)


@generator("hash", 2)
def gen_hget(ctx):
    k = ctx.key()
    name = ctx.r.choice([b"HGET", b"HEXISTS", b"HSTRLEN"])
    return Cmd(_arity_error_variant(ctx, [ctx.cmdname(name), k, field(ctx)], 3, 3), keys=[k])


@generator("hash")
def gen_hmget(ctx):
    k = ctx.key()
    args = [b"HMGET", k] + [field(ctx) for _ in range(ctx.r.randint(1, 5))]
    return Cmd(_arity_error_variant(ctx, args, 3), keys=[k])


@generator("hash", 1.5)
def gen_hdel(ctx):
    k = ctx.key()
    args = [b"HDEL", k] + [field(ctx) for _ in range(ctx.r.randint(1, 4))]
    return Cmd(_arity_error_variant(ctx, args, 3), keys=[k], write=True)


@generator("hash")
def gen_hlen_getall(ctx):
    k = ctx.key()
    name = ctx.r.choice([b"HLEN", b"HGETALL", b"HKEYS", b"HVALS"])
    check = {b"HLEN": None, b"HGETALL": check_pairs_unordered}.get(name, check_sorted)
    return Cmd(_arity_error_variant(ctx, [name, k], 2, 2), keys=[k], check=check)


@generator("hash", 1.5)
def gen_hincrby(ctx):
    k = ctx.key()
    x = ctx.r.random()
    if x < 0.1:
        incr = ctx.r.choice([b"9223372036854775807", b"-9223372036854775808", b"1", b"-1"])
    else:
        incr = ctx.int_str()
    return Cmd(_arity_error_variant(ctx, [b"HINCRBY", k, field(ctx), incr], 4, 4),
               keys=[k], write=True)


@generator("hash", 1.5)
def gen_hincrbyfloat(ctx):
    k = ctx.key()
    incr = ctx.float_str() if ctx.r.random() < 0.85 else ctx.int_str()
    return Cmd(_arity_error_variant(ctx, [b"HINCRBYFLOAT", k, field(ctx), incr], 4, 4),
               keys=[k], write=True)


@generator("hash", 1.5)
def gen_hrandfield(ctx):
    k = ctx.key()
    x = ctx.r.random()
    if x < 0.2:
        return Cmd([b"HRANDFIELD", k], keys=[k], check=check_hrandfield)
    count = ctx.r.randint(-15, 15) if ctx.r.random() < 0.85 else \
        ctx.r.choice([0, 9223372036854775807, 1000000, 4611686018427387903])
    args = [b"HRANDFIELD", k, count]
    if ctx.r.random() < 0.4:
        args.append(ctx.r.choice([b"WITHVALUES", b"withvalues"]))
    if ctx.r.random() < 0.08:  # errors, answered exactly
        args = ctx.r.choice([
            [b"HRANDFIELD", k, b"abc"], [b"HRANDFIELD", k, b"1.5"],
            [b"HRANDFIELD", k, b"-9223372036854775808"],
            [b"HRANDFIELD", k, b"9223372036854775807", b"WITHVALUES"],
            [b"HRANDFIELD", k, b"-4611686018427387904", b"WITHVALUES"],
            [b"HRANDFIELD", k, 3, b"WITHSCORES"], [b"HRANDFIELD", k, 3, b"WITHVALUES", b"x"],
            [b"HRANDFIELD", k, b"abc", b"FOO"], [b"HRANDFIELD"]])
        return Cmd(args, keys=[k])
    return Cmd(args, keys=[k], check=check_hrandfield)


@generator("hash")
def gen_hscan(ctx):
    k = ctx.key()
    args = [b"HSCAN", k, b"0"]
    if ctx.r.random() < 0.4:
        args += [b"MATCH", ctx.r.choice([b"f*", b"*", b"?", b"[a-f]*", b"\\x*", b"*1*"])]
    if ctx.r.random() < 0.5:
        args += [b"COUNT", ctx.r.choice([1, 2, 3, 10, 1000])]
    if ctx.r.random() < 0.1:  # bad arguments: answered exactly
        args = ctx.r.choice([[b"HSCAN", k, b"abc"], [b"HSCAN", k, b"0", b"COUNT", 0],
                             [b"HSCAN", k, b"0", b"COUNT", b"x"], [b"HSCAN", k, b"0", b"FOO", 1],
                             [b"HSCAN", k, b"0", b"MATCH"], [b"HSCAN", k, b"0", b"TYPE", b"hash"],
                             [b"HSCAN", k]])
        return Cmd(args, keys=[k])
    return Cmd(args, keys=[k], check=check_hscan)


@generator("hash-mix")
def gen_hash_cross_type(ctx):
    return cross_type_command(ctx)


# --- tests -------------------------------------------------------------------------

def test_hash_diff(pair):
    node, ref = pair
    assert run_diff(node, ref, BASE_SEED, n(5000), families=["hash"])[1] == n(5000)


def test_hash_diff_with_other_types(pair):
    """Hashes mixed with strings and key commands: WRONGTYPE both ways,
    EXPIRE/RENAME/DEL on hashes, overwrite by SET."""
    node, ref = pair
    run_diff(node, ref, BASE_SEED + 1, n(4000), families=["hash", "hash-mix"],
             weights={"hash": 4.0})


def test_hash_exact_edge_cases(pair):
    node, ref = pair
    d = Differ(node.port, ref.port, seed=BASE_SEED)
    try:
        script = [
            [b"HSET", b"h", b"a", b"1", b"a", b"2", b"b", b""],
            [b"HGET", b"h", b"a"], [b"HLEN", b"h"], [b"HSTRLEN", b"h", b"b"],
            [b"HSET", b"h", b"odd"], [b"HMSET", b"h", b"x", b"1", b"y"],
            [b"HSETNX", b"h", b"a", b"3"], [b"HSETNX", b"h", b"c", b"3"],
            [b"HSET", b"h", b"big", b"9223372036854775807"], [b"HINCRBY", b"h", b"big", b"1"],
            [b"HINCRBY", b"h", b"big", b"-1"], [b"HSET", b"h", b"small", b"-9223372036854775808"],
            [b"HINCRBY", b"h", b"small", b"-1"], [b"HINCRBY", b"h", b"small", b"0"],
            [b"HINCRBY", b"h", b"new", b"-5"], [b"HINCRBY", b"h", b"b", b"1"],
            [b"HSET", b"h", b"s", b" 1"], [b"HINCRBY", b"h", b"s", b"1"],
            [b"HINCRBY", b"h", b"a", b"1.5"], [b"HINCRBY", b"h", b"a", b"99999999999999999999"],
            [b"HINCRBYFLOAT", b"h", b"a", b"0.1"], [b"HINCRBYFLOAT", b"h", b"a", b"1e5"],
            [b"HINCRBYFLOAT", b"h", b"a", b"inf"], [b"HINCRBYFLOAT", b"h", b"a", b"-inf"],
            [b"HINCRBYFLOAT", b"h", b"a", b"nan"], [b"HINCRBYFLOAT", b"h", b"a", b"abc"],
            [b"HINCRBYFLOAT", b"h", b"s", b"1"], [b"HSET", b"h", b"inf", b"inf"],
            [b"HINCRBYFLOAT", b"h", b"inf", b"1"], [b"HSET", b"h", b"e", b"1e3"],
            [b"HINCRBYFLOAT", b"h", b"e", b"1"], [b"HINCRBYFLOAT", b"h", b"nf", b"-0.0"],
            [b"HINCRBYFLOAT", b"h", b"huge", b"1.7976931348623157e308"],
            [b"HINCRBYFLOAT", b"h", b"huge", b"1.7976931348623157e308"],
            [b"HGET", b"h", b"huge"],
            [b"HDEL", b"h", b"a", b"a", b"nope"], [b"HEXISTS", b"h", b"a"],
            [b"HMGET", b"h", b"a", b"b", b"c", b"b"], [b"HMGET", b"missing", b"a"],
            [b"HGETALL", b"missing"], [b"HKEYS", b"missing"], [b"HLEN", b"missing"],
            [b"HSTRLEN", b"missing", b"a"], [b"HRANDFIELD", b"missing"],
            [b"HRANDFIELD", b"missing", b"-5", b"WITHVALUES"], [b"HRANDFIELD", b"h", b"0"],
            [b"HSCAN", b"missing", b"0", b"COUNT", b"0"], [b"HSCAN", b"missing", b"x"],
            [b"SET", b"str", b"v"], [b"HSET", b"str", b"a", b"1"], [b"HGET", b"str", b"a"],
            [b"HINCRBY", b"str", b"a", b"x"], [b"HINCRBYFLOAT", b"str", b"a", b"x"],
            [b"HINCRBYFLOAT", b"str", b"a", b"inf"], [b"HRANDFIELD", b"str", b"1", b"x"],
            [b"HRANDFIELD", b"str", b"x"], [b"HSCAN", b"str", b"0", b"COUNT", b"0"],
            [b"HDEL", b"h", b"b", b"c", b"x", b"big", b"small", b"new", b"s", b"inf", b"e",
             b"nf", b"huge", b"y"],
            [b"EXISTS", b"h"], [b"HLEN", b"h"], [b"TYPE", b"h"],
            [b"HSET", b"\x00k", b"\x00f\xff", b"\r\n\x00"], [b"HGETALL", b"\x00k"],
        ]
        for i, args in enumerate(script):
            d.execute(Cmd(args, keys=[args[1]] if len(args) > 1 else [], write=True), i)
    finally:
        d.close()


def test_hash_big_sampling_and_scan(pair):
    """A 3,000-field hash on both servers: big enough that HRANDFIELD
    probes instead of walking, and HSCAN takes many calls."""
    node, ref = pair
    rnd = random.Random(BASE_SEED)
    print(f"seed {BASE_SEED}")
    fields = {b"f:%d:%08x" % (i, rnd.getrandbits(32)): b"v%d" % i for i in range(3000)}
    fields[b""] = b"empty field"
    fields[bytes(range(256))] = b"binary"
    for p in (node, ref):
        c = p.client()
        items = list(fields.items())
        for i in range(0, len(items), 500):
            c.hset("big", mapping=dict(items[i:i + 500]))
    d = Differ(node.port, ref.port, seed=BASE_SEED, flush=False)
    try:
        cmds = [[b"HLEN", b"big"], [b"HRANDFIELD", b"big"], [b"HRANDFIELD", b"big", 1],
                [b"HRANDFIELD", b"big", 10], [b"HRANDFIELD", b"big", 10, b"WITHVALUES"],
                [b"HRANDFIELD", b"big", 1000], [b"HRANDFIELD", b"big", 2999],
                [b"HRANDFIELD", b"big", 5000, b"WITHVALUES"], [b"HRANDFIELD", b"big", -50],
                [b"HRANDFIELD", b"big", -3, b"WITHVALUES"]]
        for i, args in enumerate(cmds * 5):
            check = None if args[0] == b"HLEN" else check_hrandfield
            d.execute(Cmd(args, keys=[b"big"], check=check), i)
        for i, opts in enumerate([[], [b"COUNT", 7], [b"COUNT", 1000], [b"MATCH", b"f:1*"],
                                  [b"MATCH", b"*", b"COUNT", 3]]):
            d.execute(Cmd([b"HSCAN", b"big", b"0"] + opts, keys=[b"big"], check=check_hscan), i)
        d.execute(Cmd([b"HGETALL", b"big"], keys=[b"big"], check=check_pairs_unordered))
    finally:
        d.close()
    # Many single draws from a big hash reach a good share of its fields.
    # (Probing is approximate: variable-length decimal ids like these are
    # its hard case; 6000 uniform draws would reach about 2600.)
    c = node.client()
    seen = {c.hrandfield("big") for _ in range(6000)}
    assert seen <= set(fields)
    print(f"6000 single HRANDFIELD draws hit {len(seen)} distinct fields of {len(fields)}")
    assert len(seen) > 700


def test_hash_scan_survives_writes(cluster):
    """Fields present for a whole HSCAN are all returned even when fields
    are added and deleted between the calls."""
    node = cluster.node()
    c = node.client()
    stable = {b"s%04d" % i: b"x" for i in range(500)}
    c.hset("h", mapping=stable)
    cursor, seen, step = 0, set(), 0
    while True:
        cursor, part = c.hscan("h", cursor, count=20)
        seen.update(part)
        step += 1
        c.hset("h", b"t%04d" % step, b"new")
        c.hdel("h", b"t%04d" % (step - 1))
        if cursor == 0:
            break
        assert step < 1000
    assert set(stable) <= seen


def test_hash_million_fields(cluster):
    """1,000,000 fields written with pipelined 1000-field HSETs; reads by
    field; DEL answers at once and the key is gone."""
    node = cluster.node()
    c = node.client(socket_timeout=120)
    t0 = time.monotonic()
    total, batch = 1_000_000, 1000
    pipe = c.pipeline(transaction=False)
    for start in range(0, total, batch):
        args = []
        for i in range(start, start + batch):
            args += [b"field:%07d" % i, b"%d" % (i * 7)]
        pipe.execute_command("HSET", "big", *args)
        if (start // batch) % 50 == 49:
            assert sum(pipe.execute()) == 50 * batch
            assert time.monotonic() - t0 < 600, "building the hash took too long"
    pipe.execute()
    print(f"1,000,000 HSET fields in {time.monotonic() - t0:.1f}s")
    assert c.hlen("big") == total
    rnd = random.Random(BASE_SEED)
    for i in [0, 1, total - 1] + [rnd.randrange(total) for _ in range(200)]:
        assert c.hget("big", b"field:%07d" % i) == b"%d" % (i * 7)
    assert c.hget("big", "field:x") is None
    assert c.hexists("big", "field:1000000") is False
    assert c.hset("big", "field:0000000", "changed") == 0
    assert c.hlen("big") == total
    sample = c.hrandfield("big", 20, withvalues=True)
    assert len(sample) == 40 and len(set(sample[::2])) == 20
    cursor, part = c.hscan("big", 0, count=100)
    assert len(part) == 100 and cursor != 0
    t1 = time.monotonic()
    assert c.delete("big") == 1
    print(f"DEL of the 1,000,000-field hash: {(time.monotonic() - t1) * 1000:.2f} ms (round trip)")
    assert c.exists("big") == 0
    assert c.hlen("big") == 0
    assert c.hget("big", "field:0000001") is None
    assert c.hset("big", "a", "1") == 1 and c.hlen("big") == 1  # a fresh hash, no stale fields
