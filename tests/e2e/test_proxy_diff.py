"""Differential test: seeded random command sequences sent through
strata-proxy (three groups) and to one plain redis-server must get the
same replies.  The seed is printed; rerun one with STRATA_SEED=N."""
import os
import random

import pytest
import redis

from proxy_util import ProxySetup

KEYS = [f"k{i}" for i in range(12)] + [f"{{t}}k{i}" for i in range(6)]
TAGGED = [k for k in KEYS if k.startswith("{t}")]
MEMBERS = ["a", "b", "c", "d", "1", "2", "-3"]

UNORDERED = {"SMEMBERS", "SINTER", "SUNION", "SDIFF", "HKEYS", "HVALS", "HGETALL", "KEYS"}


def gen(rng):
    k = rng.choice(KEYS)
    m = rng.choice(MEMBERS)
    n = rng.randint(-5, 20)
    choices = [
        ("SET", k, m), ("GET", k), ("INCR", k), ("INCRBY", k, n), ("APPEND", k, m),
        ("STRLEN", k), ("GETRANGE", k, 0, n), ("SETRANGE", k, abs(n), m), ("GETSET", k, m),
        ("SETNX", k, m), ("GETDEL", k), ("TYPE", k), ("EXISTS", k), ("DEL", k),
        ("MSET",) + tuple(x for kk in rng.sample(KEYS, 3) for x in (kk, rng.choice(MEMBERS))),
        ("MGET",) + tuple(rng.sample(KEYS, rng.randint(1, 6))),
        ("DEL",) + tuple(rng.sample(KEYS, rng.randint(1, 4))),
        ("EXISTS",) + tuple(rng.choice(KEYS) for _ in range(rng.randint(1, 5))),
        ("TOUCH",) + tuple(rng.sample(KEYS, 3)),
        ("UNLINK",) + tuple(rng.sample(KEYS, 2)),
        ("LPUSH", k, m, m), ("RPUSH", k, m), ("LPOP", k), ("RPOP", k), ("LLEN", k),
        ("LRANGE", k, 0, n), ("LINDEX", k, n), ("LREM", k, 0, m),
        ("SADD", k, m, rng.choice(MEMBERS)), ("SREM", k, m), ("SCARD", k), ("SMEMBERS", k),
        ("SISMEMBER", k, m),
        ("HSET", k, m, n), ("HGET", k, m), ("HDEL", k, m), ("HLEN", k), ("HGETALL", k),
        ("HINCRBY", k, m, n), ("HEXISTS", k, m),
        ("ZADD", k, n, m), ("ZSCORE", k, m), ("ZRANGE", k, 0, -1, "WITHSCORES"),
        ("ZINCRBY", k, n, m), ("ZCARD", k), ("ZRANK", k, m), ("ZREM", k, m),
        ("PFADD", k, m, rng.choice(MEMBERS)), ("PFCOUNT", k),
        ("GEOADD", k, rng.uniform(-180, 180), rng.uniform(-85, 85), m), ("GEOPOS", k, m),
        ("GEODIST", k, m, rng.choice(MEMBERS), "km"),
        ("EXPIRE", k, 1000), ("PERSIST", k), ("TTL", k),
        ("RENAME", rng.choice(TAGGED), rng.choice(TAGGED)),
        ("SINTER", rng.choice(TAGGED), rng.choice(TAGGED)),
        ("SUNIONSTORE", rng.choice(TAGGED), rng.choice(TAGGED), rng.choice(TAGGED)),
        ("RPOPLPUSH", rng.choice(TAGGED), rng.choice(TAGGED)),
        ("MSETNX", rng.choice(TAGGED), m, rng.choice(TAGGED), m),
        ("DBSIZE",), ("PING",), ("ECHO", m), ("EXISTS", "nokey"),
        ("GET",), ("SET", k), ("NOSUCHCOMMAND", k, m), ("INCR", k, k),
    ]
    return rng.choice(choices)


def run(client, cmd):
    try:
        r = client.execute_command(*cmd)
    except redis.ResponseError as e:
        return ("error", str(e))
    if cmd[0] in UNORDERED and isinstance(r, (list, set)):
        return sorted(r)
    if isinstance(r, dict):
        return sorted(r.items())
    if isinstance(r, set):
        return sorted(r)
    return r


def snapshot(c, k):
    t = c.type(k)
    if t == b"string":
        v = c.get(k)
    elif t == b"list":
        v = c.lrange(k, 0, -1)
    elif t == b"set":
        v = sorted(c.smembers(k))
    elif t == b"hash":
        v = sorted(c.hgetall(k).items())
    elif t == b"zset":
        v = c.zrange(k, 0, -1, withscores=True)
    else:
        v = None
    return t, v


@pytest.mark.parametrize("round_", range(3))
def test_differential(cluster, round_):
    seed = int(os.environ.get("STRATA_SEED", random.randrange(1 << 30))) + round_
    print(f"differential seed={seed}")
    rng = random.Random(seed)
    setup = ProxySetup(cluster, 3)
    ref = cluster.redis(name="reference")
    via = setup.client()
    direct = ref.client()
    for i in range(1500):
        cmd = gen(rng)
        a, b = run(via, cmd), run(direct, cmd)
        assert a == b, f"seed={seed} step={i} command={cmd!r}: proxy {a!r} != redis {b!r}"
    # the data ended up identical
    assert via.dbsize() == direct.dbsize()
    for k in KEYS:
        assert snapshot(via, k) == snapshot(direct, k), f"seed={seed} key {k}"
