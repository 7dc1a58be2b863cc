"""Differential generators for bit commands and big strings (see difftest.py).

Two families:
  bitmap     SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO LCS on
             small and medium strings, with the argument edge cases the
             parsers must refuse exactly as Redis does;
  bigstring  strings past Strata's inline limit (16 KiB, so stored in
             chunks of 16 KiB): APPEND, SETRANGE with gaps, GETRANGE, GET,
             SETBIT/BITCOUNT/BITPOS around chunk boundaries, BITOP of big
             operands, overwrite by a small SET (back inline), COPY, RENAME,
             DEL, INCR on a big value.

Importing the module registers them; tests pick them with families=[...].
"""
from difftest import Cmd, generator

CHUNK = 16384
BM_KEYS = [b"bm0", b"bm1", b"bm2", b"{t}bm3"]
BIG_KEYS = [b"big0", b"big1", b"big2"]

INT64_EDGES = [0, 1, -1, 127, 128, -128, 255, 256, 2**31 - 1, -2**31, 2**32, 2**62,
               2**63 - 1, -2**63, 2**63 - 2, -2**63 + 1]
BAD_INTS = [b"2**63", b"9223372036854775808", b"-9223372036854775809", b"1.5", b"abc", b"",
            b" 1", b"+1", b"0x10"]


def bm_key(ctx):
    if ctx.r.random() < 0.9:
        return ctx.r.choice(BM_KEYS)
    return ctx.key()  # anything another family left there (WRONGTYPE)


def big_key(ctx):
    return ctx.r.choice(BIG_KEYS) if ctx.r.random() < 0.95 else ctx.key()


def bit_offset(ctx, big=False):
    x = ctx.r.random()
    if x < (0.3 if big else 0.6):
        return ctx.r.randint(0, 300)
    if x < 0.8:
        # around a chunk boundary (in bits)
        b = CHUNK * 8 * ctx.r.randint(1, 6 if big else 2)
        return b + ctx.r.randint(-20, 20)
    if x < 0.9:
        return ctx.r.randint(0, 2**20 if big else 2**16)
    # refused offsets only: a valid far one would make a 512 MB string, which
    # test_node_bitmap.py's sparse test covers (BITOP of it here would be slow)
    return ctx.r.choice([-1, 2**32, 2**32 * 8, 8 * 512 * 1024 * 1024, 2**63 - 1, b"abc", b"1.5",
                         b"", b"+5", b"#3"])


def byte_index(ctx, big=False):
    x = ctx.r.random()
    if x < 0.5:
        return ctx.r.randint(-40, 40)
    if x < 0.8:
        return CHUNK * ctx.r.randint(1, 6 if big else 1) + ctx.r.randint(-10, 10)
    if x < 0.9:
        return -ctx.r.randint(1, 200000)
    return ctx.r.choice([9223372036854775807, -9223372036854775808, 2**40, b"x", b"1.0"])


def maybe_unit(ctx, args, pos_ok=True):
    x = ctx.r.random()
    if x < 0.35:
        args.append(ctx.r.choice([b"BIT", b"bit", b"Bit"]))
    elif x < 0.6:
        args.append(ctx.r.choice([b"BYTE", b"byte"]))
    elif x < 0.63:
        args.append(b"bits")
    return args


# --------------------------------------------------------------------------
# bitmap

@generator("bitmap", 3.0)
def gen_setbit(ctx):
    k = bm_key(ctx)
    v = ctx.r.choice([0, 1, 1, 0, 1]) if ctx.r.random() < 0.92 else ctx.r.choice([2, -1, b"x", b"", b"01"])
    return Cmd([ctx.cmdname(b"SETBIT"), k, bit_offset(ctx), v], keys=[k], write=True)


@generator("bitmap", 2.0)
def gen_getbit(ctx):
    k = bm_key(ctx)
    return Cmd([ctx.cmdname(b"GETBIT"), k, bit_offset(ctx)], keys=[k])


@generator("bitmap", 2.0)
def gen_bitcount(ctx):
    k = bm_key(ctx)
    args = [ctx.cmdname(b"BITCOUNT"), k]
    x = ctx.r.random()
    if x < 0.75:
        args += [byte_index(ctx), byte_index(ctx)]
        maybe_unit(ctx, args)
    elif x < 0.8:
        args.append(byte_index(ctx))  # syntax error (when the key exists)
    elif x < 0.83:
        args += [1, 2, b"bit", b"extra"]
    return Cmd(args, keys=[k])


@generator("bitmap", 2.0)
def gen_bitpos(ctx):
    k = bm_key(ctx)
    bit = ctx.r.choice([0, 1]) if ctx.r.random() < 0.93 else ctx.r.choice([2, -1, b"x"])
    args = [ctx.cmdname(b"BITPOS"), k, bit]
    x = ctx.r.random()
    if x < 0.3:
        args.append(byte_index(ctx))
    elif x < 0.75:
        args += [byte_index(ctx), byte_index(ctx)]
        maybe_unit(ctx, args)
    elif x < 0.78:
        args += [0, -1, b"byte", b"extra"]
    return Cmd(args, keys=[k])


@generator("bitmap", 1.5)
def gen_bitop(ctx):
    op = ctx.r.choice([b"AND", b"OR", b"XOR", b"NOT", b"and", b"not", b"nand"])
    dst = bm_key(ctx)
    n = 1 if op.lower() == b"not" and ctx.r.random() < 0.85 else ctx.r.randint(1, 4)
    srcs = [bm_key(ctx) for _ in range(n)]
    return Cmd([ctx.cmdname(b"BITOP"), op, dst] + srcs, keys=[dst] + srcs, write=True)


def bf_type(ctx):
    x = ctx.r.random()
    if x < 0.45:
        return b"i%d" % ctx.r.randint(1, 64)
    if x < 0.9:
        return b"u%d" % ctx.r.randint(1, 63)
    return ctx.r.choice([b"u64", b"i65", b"i0", b"u0", b"x8", b"I8", b"U8", b"i", b"i-1", b"u8 "])


def bf_offset(ctx):
    x = ctx.r.random()
    if x < 0.6:
        return ctx.r.randint(0, 200)
    if x < 0.8:
        return b"#%d" % ctx.r.randint(0, 30)
    if x < 0.9:
        return CHUNK * 8 + ctx.r.randint(-70, 10)
    return ctx.r.choice([-1, b"#-1", b"abc", 2**32 * 8, b"##1", b"#", 8 * 512 * 1024 * 1024])


def bf_value(ctx):
    x = ctx.r.random()
    if x < 0.5:
        return ctx.r.randint(-300, 300)
    if x < 0.9:
        return ctx.r.choice(INT64_EDGES)
    return ctx.r.choice(BAD_INTS)


def bf_ops(ctx, ro):
    args = []
    for _ in range(ctx.r.randint(0, 5)):
        x = ctx.r.random()
        if x < 0.4 or ro and x < 0.9:
            args += [b"GET", bf_type(ctx), bf_offset(ctx)]
        elif x < 0.6:
            args += [b"SET", bf_type(ctx), bf_offset(ctx), bf_value(ctx)]
        elif x < 0.85:
            args += [ctx.r.choice([b"INCRBY", b"incrby"]), bf_type(ctx), bf_offset(ctx), bf_value(ctx)]
        elif x < 0.97:
            args += [b"OVERFLOW", ctx.r.choice([b"WRAP", b"SAT", b"FAIL", b"fail", b"sat", b"bogus"])]
        else:
            args += [ctx.r.choice([b"GET", b"SET", b"FOO", b"OVERFLOW"])]  # missing arguments
    return args


@generator("bitmap", 2.0)
def gen_bitfield(ctx):
    k = bm_key(ctx)
    return Cmd([ctx.cmdname(b"BITFIELD"), k] + bf_ops(ctx, False), keys=[k], write=True)


@generator("bitmap", 1.0)
def gen_bitfield_ro(ctx):
    k = bm_key(ctx)
    return Cmd([ctx.cmdname(b"BITFIELD_RO"), k] + bf_ops(ctx, True), keys=[k])


@generator("bitmap", 1.0)
def gen_bitmap_set(ctx):
    """Plain strings under the bitmap keys: LCS material and odd bytes."""
    k = bm_key(ctx)
    if ctx.r.random() < 0.6:
        v = bytes(ctx.r.choice(b"abcde") for _ in range(ctx.r.randint(0, 30)))
    else:
        v = ctx.value()
    return Cmd([b"SET", k, v], keys=[k], write=True)


@generator("bitmap", 1.5)
def gen_lcs(ctx):
    a, b = bm_key(ctx), bm_key(ctx)
    args = [ctx.cmdname(b"LCS"), a, b]
    for _ in range(ctx.r.randint(0, 3)):
        x = ctx.r.random()
        if x < 0.3:
            args.append(b"IDX")
        elif x < 0.45:
            args.append(b"LEN")
        elif x < 0.65:
            args.append(b"WITHMATCHLEN")
        elif x < 0.9:
            args += [b"MINMATCHLEN", ctx.r.choice([0, 1, 2, 3, 5, -1, b"x"])]
        elif x < 0.95:
            args.append(b"MINMATCHLEN")
        else:
            args.append(b"bogus")
    return Cmd(args, keys=[a, b])


@generator("bitmap", 0.5)
def gen_bitmap_del(ctx):
    k = bm_key(ctx)
    return Cmd([b"DEL", k], keys=[k], write=True)


# --------------------------------------------------------------------------
# bigstring

def big_payload(ctx):
    x = ctx.r.random()
    if x < 0.4:
        return bytes([ctx.r.randrange(256)]) * ctx.r.randint(1, 100)
    if x < 0.7:
        n = ctx.r.randint(1000, 3 * CHUNK)
        return (b"%d-" % ctx.r.randrange(1000)) * (n // 4)
    return bytes(ctx.r.randrange(256) for _ in range(ctx.r.randint(0, 40)))


def big_offset(ctx):
    x = ctx.r.random()
    if x < 0.5:
        return CHUNK * ctx.r.randint(0, 8) + ctx.r.randint(-30, 30)
    if x < 0.9:
        return ctx.r.randint(0, 10 * CHUNK)
    return ctx.r.choice([-1, 512 * 1024 * 1024, 2**62, b"x"])


@generator("bigstring", 2.0)
def gen_big_append(ctx):
    k = big_key(ctx)
    return Cmd([b"APPEND", k, big_payload(ctx)], keys=[k], write=True)


@generator("bigstring", 2.0)
def gen_big_setrange(ctx):
    k = big_key(ctx)
    off = big_offset(ctx)
    v = big_payload(ctx) if ctx.r.random() < 0.95 else b""
    return Cmd([b"SETRANGE", k, off, v], keys=[k], write=True)


@generator("bigstring", 2.0)
def gen_big_getrange(ctx):
    k = big_key(ctx)
    a = byte_index(ctx, big=True)
    if ctx.r.random() < 0.7 and isinstance(a, int) and a >= 0:
        b = a + ctx.r.randint(0, 2 * CHUNK)
    else:
        b = byte_index(ctx, big=True)
    return Cmd([b"GETRANGE", k, a, b], keys=[k])


@generator("bigstring", 1.0)
def gen_big_read(ctx):
    k = big_key(ctx)
    cmd = ctx.r.choice([b"GET", b"STRLEN", b"INCR", b"EXISTS", b"TYPE", b"INCRBYFLOAT"])
    if cmd == b"INCRBYFLOAT":
        return Cmd([cmd, k, b"1.5"], keys=[k], write=True)
    return Cmd([cmd, k], keys=[k], write=cmd == b"INCR")


@generator("bigstring", 2.0)
def gen_big_bits(ctx):
    k = big_key(ctx)
    x = ctx.r.random()
    if x < 0.35:
        return Cmd([b"SETBIT", k, bit_offset(ctx, big=True), ctx.r.choice([0, 1])], keys=[k], write=True)
    if x < 0.5:
        return Cmd([b"GETBIT", k, bit_offset(ctx, big=True)], keys=[k])
    if x < 0.75:
        args = [b"BITCOUNT", k]
        if ctx.r.random() < 0.8:
            args += [byte_index(ctx, big=True), byte_index(ctx, big=True)]
            maybe_unit(ctx, args)
        return Cmd(args, keys=[k])
    if x < 0.9:
        args = [b"BITPOS", k, ctx.r.choice([0, 1])]
        if ctx.r.random() < 0.7:
            args.append(byte_index(ctx, big=True))
            if ctx.r.random() < 0.6:
                args.append(byte_index(ctx, big=True))
                maybe_unit(ctx, args)
        return Cmd(args, keys=[k])
    ops = [b"BITFIELD", k]
    for _ in range(ctx.r.randint(1, 3)):
        ops += [ctx.r.choice([b"GET", b"INCRBY", b"SET"]), bf_type(ctx),
                CHUNK * 8 * ctx.r.randint(1, 4) + ctx.r.randint(-40, 5)]
        if ops[-3] != b"GET":
            ops.append(bf_value(ctx))
    return Cmd(ops, keys=[k], write=True)


@generator("bigstring", 1.0)
def gen_big_bitop(ctx):
    op = ctx.r.choice([b"AND", b"OR", b"XOR", b"NOT"])
    dst = big_key(ctx)
    srcs = [big_key(ctx)] if op == b"NOT" else [big_key(ctx) for _ in range(ctx.r.randint(1, 3))]
    return Cmd([b"BITOP", op, dst] + srcs, keys=[dst] + srcs, write=True)


@generator("bigstring", 1.0)
def gen_big_keyspace(ctx):
    k = big_key(ctx)
    x = ctx.r.random()
    if x < 0.25:
        return Cmd([b"SET", k, ctx.r.choice([b"small", b"12345", big_payload(ctx)])], keys=[k], write=True)
    if x < 0.4:
        return Cmd([b"DEL", k], keys=[k], write=True)
    if x < 0.55:
        d = big_key(ctx)
        return Cmd([b"COPY", k, d] + ([b"REPLACE"] if ctx.r.random() < 0.5 else []), keys=[k, d], write=True)
    if x < 0.7:
        d = big_key(ctx)
        return Cmd([b"RENAME", k, d], keys=[k, d], write=True)
    if x < 0.8:
        return Cmd([b"EXPIRE", k, ctx.r.randint(100, 10000)], keys=[k], write=True)
    if x < 0.9:
        return Cmd([b"GETDEL", k], keys=[k], write=True)
    return Cmd([b"GETSET", k, big_payload(ctx)], keys=[k], write=True)
