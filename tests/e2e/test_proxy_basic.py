"""strata-proxy in front of plain redis-server groups: routing, local
commands, errors, multi-key splitting, transactions, blocking pops,
pub/sub, pipelines, auth and observability."""
import socket
import threading
import time
import urllib.request

import pytest
import redis

from proxy_util import ProxySetup, free_port, group_of, keys_for_group, wait_until


@pytest.fixture
def two(cluster):
    return ProxySetup(cluster, 2)


@pytest.fixture
def three(cluster):
    return ProxySetup(cluster, 3)


def raw_command(port, payload, nreplies_bytes_hint=None, timeout=5):
    """Send raw bytes, return what came back until the socket is quiet."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(payload)
    s.settimeout(0.5)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    s.close()
    return data


def test_keys_land_in_their_group(three):
    r = three.client()
    for g in range(3):
        for k in keys_for_group(three.ranges, g, 20, prefix=f"land{g}"):
            assert r.set(k, f"v-{k}")
            # the value is on that group's server and no other
            assert three.direct(g).get(k) == f"v-{k}".encode()
            for other in range(3):
                if other != g:
                    assert three.direct(other).get(k) is None
            assert r.get(k) == f"v-{k}".encode()


def test_hash_tags_keep_keys_together(three):
    r = three.client()
    keys = [f"{{user:42}}:{field}" for field in ("name", "mail", "age", "x", "y")]
    groups = {group_of(k, three.ranges) for k in keys}
    assert len(groups) == 1
    r.mset({k: k for k in keys})
    # commands that need all keys in one group work with a hash tag
    assert r.rename(keys[0], keys[0] + ":renamed")
    assert r.sadd("{tag}s1", "a", "b") == 2
    assert r.sadd("{tag}s2", "b", "c") == 2
    assert r.sinterstore("{tag}dst", ["{tag}s1", "{tag}s2"]) == 1
    assert r.smembers("{tag}dst") == {b"b"}
    assert r.lpush("{q}src", "x") == 1
    assert r.rpoplpush("{q}src", "{q}dst") == b"x"
    assert r.msetnx({"{m}a": 1, "{m}b": 2}) is True
    assert r.pfadd("{h}a", "x", "y") == 1 and r.pfadd("{h}b", "y", "z") == 1
    assert r.pfcount("{h}a", "{h}b") == 3
    assert r.execute_command("GEOADD", "{g}src", 13.361389, 38.115556, "Palermo") == 1
    assert r.georadius("{g}src", 13, 38, 100, unit="km", store="{g}dst") == 1


def test_crossslot_errors(three):
    r = three.client()
    a = keys_for_group(three.ranges, 0, 1, "cs")[0]
    b = keys_for_group(three.ranges, 1, 1, "cs")[0]
    r.set(a, 1)
    for args in (("RENAME", a, b), ("MSETNX", a, 1, b, 2), ("SMOVE", a, b, "m"),
                 ("SINTERSTORE", a, a, b), ("ZUNIONSTORE", a, 2, a, b), ("RPOPLPUSH", a, b),
                 ("LMOVE", a, b, "LEFT", "RIGHT"), ("SUNION", a, b), ("PFCOUNT", a, b),
                 ("PFMERGE", a, b), ("GEOSEARCHSTORE", a, b, "FROMLONLAT", 0, 0, "BYRADIUS", 1, "m"),
                 ("GEORADIUS", a, 0, 0, 1, "m", "STORE", b),
                 ("GEORADIUSBYMEMBER", a, "m", 1, "m", "COUNT", 1, "STOREDIST", b)):
        with pytest.raises(redis.ResponseError, match="^CROSSSLOT Keys in request don't hash to the same slot$"):
            r.execute_command(*args)
    # the connection is still usable
    assert r.get(a) == b"1"


def test_multikey_split_and_merge(three):
    r = three.client()
    keys = []
    for g in range(3):
        keys += keys_for_group(three.ranges, g, 7, prefix=f"mk{g}")
    # interleave so every run of adjacent keys crosses groups
    keys = [keys[i // 3 + (i % 3) * 7] for i in range(21)]
    assert len({group_of(k, three.ranges) for k in keys}) == 3
    assert r.mset({k: f"val:{k}" for k in keys})
    missing = ["nokey:1", "nokey:2"]
    order = keys[:10] + missing[:1] + keys[10:] + missing[1:] + keys[:3]
    got = r.mget(order)
    assert got == [None if k.startswith("nokey") else f"val:{k}".encode() for k in order]
    assert r.exists(*order) == len(order) - 2
    assert r.touch(*keys) == 21
    assert r.delete(*(keys[:5] + missing)) == 5
    assert r.unlink(*keys[5:8]) == 3
    assert r.exists(*keys) == 13
    # every group got its share
    for g in range(3):
        assert three.direct(g).dbsize() > 0
    assert r.dbsize() == 13
    assert sorted(r.keys("mk*")) == sorted(k.encode() for k in keys[8:])
    # MSET with an odd number of arguments
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'mset'"):
        r.execute_command("MSET", "a", "b", "c")


def test_scan_walks_every_group(three):
    r = three.client()
    want = set()
    for g in range(3):
        for k in keys_for_group(three.ranges, g, 30, prefix=f"scan{g}"):
            r.set(k, 1)
            want.add(k.encode())
    seen = set(r.scan_iter(match="scan*", count=7))
    assert seen == want
    with pytest.raises(redis.ResponseError, match="invalid cursor"):
        r.execute_command("SCAN", "notanumber")


def test_flushall_dbsize_randomkey(two):
    r = two.client()
    assert r.randomkey() is None
    for g in range(2):
        for k in keys_for_group(two.ranges, g, 5, prefix=f"f{g}"):
            r.set(k, 1)
    assert r.dbsize() == 10
    assert r.randomkey() is not None
    assert r.flushall() is True
    assert r.dbsize() == 0
    assert two.direct(0).dbsize() == 0 and two.direct(1).dbsize() == 0


def test_local_commands(two):
    r = two.client()
    assert r.ping() is True
    assert raw_command(two.proxy.port, b"PING hello\r\n") == b"$5\r\nhello\r\n"
    assert r.echo("x y") == b"x y"
    assert r.execute_command("SELECT", 0) is True
    with pytest.raises(redis.ResponseError, match="DB index is out of range"):
        r.execute_command("SELECT", 1)
    t = r.time()
    assert abs(t[0] - time.time()) < 5
    assert r.command_count() > 100
    info = raw_command(two.proxy.port, b"COMMAND INFO get\r\n")
    assert info.startswith(b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n")
    # an unknown name is a null bulk, as in Redis (not a null array)
    assert raw_command(two.proxy.port, b"COMMAND INFO nosuch\r\n") == b"*1\r\n$-1\r\n"
    hello = r.execute_command("HELLO", "2")
    assert hello[0] == b"server" and b"proto" in hello
    with pytest.raises(redis.ResponseError, match="^NOPROTO unsupported protocol version$"):
        r.execute_command("HELLO", "4")
    with pytest.raises(redis.ResponseError, match="Client names cannot contain spaces"):
        r.execute_command("HELLO", "2", "SETNAME", "a b")
    assert r.client_getname() is None
    assert r.client_setname("me") is True
    assert r.client_getname() == "me" or r.client_getname() == b"me"
    info = r.info()
    assert info["connected_clients"] >= 1
    groups = r.info("groups")
    assert groups["groups"] == 2
    assert r.ping() is True


def test_info_keyspace_sums_the_groups(three):
    """INFO's Keyspace section counts the keys of every group, as one
    Redis's would; a group that is down is left out instead of failing
    INFO; sections without the keyspace stay local."""
    r = three.client()
    assert "db0" not in r.info("keyspace")          # empty: no db0 line, as Redis
    for g in range(3):
        for k in keys_for_group(three.ranges, g, 4):
            r.set(k, "v")
    for k in keys_for_group(three.ranges, 1, 2):
        r.set(k, "v", ex=100)                          # 2 of group 1's keys expire
    assert r.info("keyspace")["db0"] == {"keys": 12, "expires": 2, "avg_ttl": 0}
    full = r.info()
    assert full["db0"]["keys"] == 12 and full["connected_clients"] >= 1
    assert r.info("everything")["db0"]["keys"] == 12
    assert "db0" not in r.info("server") and "db0" not in r.info("groups")
    raw = raw_command(three.proxy.port, b"INFO keyspace\r\n")
    assert raw.startswith(b"$") and b"# Keyspace\r\ndb0:keys=12,expires=2,avg_ttl=0\r\n" in raw
    three.backends[2].kill()
    assert r.info("keyspace")["db0"]["keys"] == 8
    assert r.info("server")["redis_version"]


def test_error_replies_keep_connection_open(two):
    r = two.client()
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("NOSUCHCMD", "a", "b")
    assert str(e.value) == "unknown command 'NOSUCHCMD', with args beginning with: 'a' 'b' "
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("GET")
    assert str(e.value) == "wrong number of arguments for 'get' command"
    for cmd in ("CONFIG GET maxmemory", "SHUTDOWN", "DEBUG SLEEP 0", "REPLICAOF NO ONE"):
        with pytest.raises(redis.ResponseError, match="not supported by strata-proxy"):
            r.execute_command(*cmd.split())
    r.set("s", "v")
    with pytest.raises(redis.ResponseError, match="^WRONGTYPE"):
        r.lpush("s", 1)
    assert r.get("s") == b"v"


def test_inline_commands(two):
    data = raw_command(two.proxy.port, b"PING\r\nSET inl 'a b'\r\nGET inl\r\nMGET inl nope\r\n")
    assert data == b"+PONG\r\n+OK\r\n$3\r\na b\r\n*2\r\n$3\r\na b\r\n$-1\r\n"


def test_protocol_error_closes(two):
    data = raw_command(two.proxy.port, b"*1\r\n$x\r\n")
    assert data.startswith(b"-ERR Protocol error")


def test_pipeline_10000_mixed_keeps_order(three):
    r = three.client()
    p = r.pipeline(transaction=False)
    expect = []
    for i in range(10000):
        k = f"pl:{i % 500}"
        m = i % 5
        if m == 0:
            p.set(k, i)
            expect.append(True)
        elif m == 1:
            p.incr(f"cnt:{i % 7}")
            expect.append(None)  # checked separately
        elif m == 2:
            p.mget(k, f"pl:{(i + 1) % 500}", "missing")
            expect.append("mget")
        elif m == 3:
            p.ping()
            expect.append(True)
        else:
            p.echo(str(i))
            expect.append(str(i).encode())
    res = p.execute()
    assert len(res) == 10000
    last = {}
    counters = {}
    for i in range(10000):
        k = f"pl:{i % 500}"
        m = i % 5
        if m == 0:
            assert res[i] is True
            last[k] = str(i).encode()
        elif m == 1:
            c = f"cnt:{i % 7}"
            counters[c] = counters.get(c, 0) + 1
            assert res[i] == counters[c]
        elif m == 2:
            assert res[i] == [last.get(k), last.get(f"pl:{(i + 1) % 500}"), None]
        else:
            assert res[i] == expect[i]


def test_transactions(three):
    r = three.client()
    ks = keys_for_group(three.ranges, 1, 2, prefix="tx")
    p = r.pipeline(transaction=True)
    p.set(ks[0], 1).incr(ks[0]).get(ks[0]).set(ks[1], "b").ping()
    assert p.execute() == [True, 2, b"2", True, True]
    # keys in two groups: CROSSSLOT at queue time, EXEC aborts
    other = keys_for_group(three.ranges, 2, 1, prefix="tx")[0]
    p = r.pipeline(transaction=True)
    p.set(ks[0], 5).set(other, 6)
    with pytest.raises(redis.ResponseError):
        p.execute()
    assert r.get(ks[0]) == b"2" and r.get(other) is None
    # MULTI / DISCARD / errors without MULTI, through one raw connection
    data = raw_command(three.proxy.port,
                       b"EXEC\r\nDISCARD\r\nMULTI\r\nMULTI\r\nSET {x}a 1\r\nDISCARD\r\nGET {x}a\r\n")
    assert data == (b"-ERR EXEC without MULTI\r\n-ERR DISCARD without MULTI\r\n+OK\r\n"
                    b"-ERR MULTI calls can not be nested\r\n+QUEUED\r\n+OK\r\n$-1\r\n")


def test_watch(two):
    r = two.client()
    k = "{w}counter"
    r.set(k, 10)
    with r.pipeline() as p:
        p.watch(k)
        v = int(p.get(k))
        p.multi()
        p.set(k, v + 1)
        assert p.execute() == [True]
    assert r.get(k) == b"11"
    # a write from another client between WATCH and EXEC aborts the EXEC
    other = two.client()
    with r.pipeline() as p:
        p.watch(k)
        other.set(k, 100)
        p.multi()
        p.set(k, 0)
        with pytest.raises(redis.WatchError):
            p.execute()
    assert r.get(k) == b"100"
    # WATCH of keys in two groups
    a = keys_for_group(two.ranges, 0, 1, "wk")[0]
    b = keys_for_group(two.ranges, 1, 1, "wk")[0]
    with pytest.raises(redis.ResponseError, match="CROSSSLOT"):
        r.execute_command("WATCH", a, b)


def test_blocking_pop_does_not_block_others(two):
    r = two.client()
    ks = keys_for_group(two.ranges, 0, 1, "bl")[0]
    result = {}

    def waiter():
        c = two.client()
        result["v"] = c.blpop([ks], timeout=5)

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.3)
    # other clients of the same group are not held up by the blocked pop
    for i in range(50):
        assert r.set(f"free:{i}", i)
    assert r.rpush(ks, "item") >= 1
    t.join(10)
    assert result["v"] == (ks.encode(), b"item")
    a = keys_for_group(two.ranges, 0, 1, "blx")[0]
    b = keys_for_group(two.ranges, 1, 1, "blx")[0]
    with pytest.raises(redis.ResponseError, match="CROSSSLOT"):
        r.blpop([a, b], timeout=1)
    assert r.brpop(["{e}empty"], timeout=0.2) is None


def test_pubsub(two):
    r = two.client()
    ps = two.client().pubsub()
    ps.subscribe("news")
    ps.psubscribe("n*")
    msgs = []
    deadline = time.time() + 5
    while len(msgs) < 2 and time.time() < deadline:
        m = ps.get_message(timeout=0.5)
        if m:
            msgs.append(m)
    assert [m["type"] for m in msgs] == ["subscribe", "psubscribe"]
    assert r.publish("news", "hello") == 2
    got = []
    while len(got) < 2 and time.time() < deadline:
        m = ps.get_message(timeout=0.5)
        if m:
            got.append(m)
    assert sorted(m["type"] for m in got) == ["message", "pmessage"]
    assert all(m["data"] == b"hello" for m in got)
    ps.close()


def test_password(cluster):
    s = ProxySetup(cluster, 2, password="s3cret")
    anon = s.proxy.client(socket_timeout=5)
    with pytest.raises(redis.AuthenticationError):
        anon.get("x")
    with pytest.raises(redis.ResponseError, match="WRONGPASS"):
        anon.execute_command("AUTH", "wrong")
    r = s.client()
    assert r.set("a", 1) and r.get("a") == b"1"
    assert r.mset({"x1": 1, "x2": 2, "x3": 3})  # fans out over both groups' AUTHed links


def test_metrics_endpoint(cluster):
    mport = free_port()
    s = ProxySetup(cluster, 2, proxy_opts={"metrics_listen": f"127.0.0.1:{mport}"})
    r = s.client()
    for i in range(20):
        r.set(f"m{i}", i)
        r.get(f"m{i}")
    text = wait_until(lambda: urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=2)
                      .read().decode(), 10, what="metrics")
    assert 'strata_proxy_commands_total{cmd="set"} 20' in text
    assert 'strata_proxy_commands_total{cmd="get"} 20' in text
    assert 'strata_proxy_group_up{group="g1"' in text
    assert "strata_proxy_command_duration_seconds_count" in text
    info = r.info("commandstats")
    assert info["cmdstat_set"]["calls"] == 20
    lat = r.info("latencystats")
    assert "p50" in lat["latency_percentiles_usec_get"]


def test_threads(cluster):
    s = ProxySetup(cluster, 2, proxy_opts={"threads": 3})
    clients = [s.client() for _ in range(12)]
    for i, c in enumerate(clients):
        c.set(f"th{i}", i)
    for i, c in enumerate(clients):
        assert c.get(f"th{i}") == str(i).encode()
        assert c.mget(f"th{i}", f"th{(i + 1) % 12}") == [str(i).encode(), str((i + 1) % 12).encode()]
    assert s.client().info("server")["threads"] == 3
