"""strata-proxy and Lua scripts: EVAL*/FCALL* routed by their declared keys
(-CROSSSLOT across slots, the owner of slot 0 without keys), SCRIPT and
FUNCTION broadcast to every group and merged, NOSCRIPT healed from the
proxy's sha cache (a group restarted, or never told), SCRIPT KILL and
FUNCTION KILL while a group is busy, scripts inside MULTI, and a
differential of scripts through the proxy against redis-server in RESP2
and RESP3.

Most tests run over plain redis-server groups (Redis 7.0), which checks
the proxy's part on its own; the last ones run on the strata-node cluster
(slot tables seeded by the sentinels): a script touching an undeclared key
of another group is refused by the node, and NOSCRIPT is healed after a
failover.  tests/e2e/test_client_libs.py runs real client libraries."""
import threading
import time

import pytest
import redis

from harness import free_port
from proxy_util import ProxySetup, key_slot, keys_for_group, wait_until
from resp3 import Resp3Conn
from test_sentinel_common import start_group, start_sentinels, write_topology

SET_SCRIPT = "return redis.call('set', KEYS[1], ARGV[1])"
GET_SCRIPT = "return redis.call('get', KEYS[1])"
LIB = ("#!lua name=mylib\n"
       "redis.register_function('myset', function(keys, args) "
       "return redis.call('set', keys[1], args[1]) end)\n"
       "redis.register_function{function_name='myget', callback=function(keys, args) "
       "return redis.call('get', keys[1]) end, flags={'no-writes'}}\n")


@pytest.fixture
def two(cluster):
    return ProxySetup(cluster, 2, proxy_opts={"timeout_ms": 5000})


def err(fn, *args):
    with pytest.raises(redis.ResponseError) as e:
        fn(*args)
    return str(e.value)


def test_eval_routed_by_key(two):
    p = two.client()
    k1 = keys_for_group(two.ranges, 0, 1, "ev")[0]
    k2 = keys_for_group(two.ranges, 1, 1, "ev")[0]
    assert p.eval(SET_SCRIPT, 1, k1, "a") == b"OK"
    assert p.eval(SET_SCRIPT, 1, k2, "b") == b"OK"
    assert two.direct(0).get(k1) == b"a" and two.direct(0).get(k2) is None
    assert two.direct(1).get(k2) == b"b" and two.direct(1).get(k1) is None
    assert p.execute_command("EVAL_RO", GET_SCRIPT, 1, k2) == b"b"
    sha = p.script_load(GET_SCRIPT)
    assert p.evalsha(sha, 1, k1) == b"a"
    assert p.execute_command("EVALSHA_RO", sha.upper(), 1, k2) == b"b"
    # keys in one slot (hash tag) across one script
    assert p.eval("return redis.call('mset', KEYS[1], 1, KEYS[2], 2)", 2, "{t}x", "{t}y") == b"OK"
    assert p.mget("{t}x", "{t}y") == [b"1", b"2"]


def test_crossslot(two):
    p = two.client()
    a, b = keys_for_group(two.ranges, 0, 2, "cs")
    assert key_slot(a) != key_slot(b)
    want = "CROSSSLOT Keys in request don't hash to the same slot"
    # different slots are refused even when one group owns both (Redis Cluster's rule)
    assert err(p.eval, "return 1", 2, a, b) == want
    c = keys_for_group(two.ranges, 1, 1, "cs")[0]
    assert err(p.eval, "return 1", 2, a, c) == want
    assert err(p.execute_command, "EVALSHA", "0" * 40, 2, a, c) == want
    assert err(p.execute_command, "FCALL", "myset", 2, a, c) == want
    assert err(p.execute_command, "FCALL_RO", "myget", 2, a, c) == want
    # the connection is still usable
    assert p.eval("return 7", 0) == 7


def test_no_keys_and_bad_numkeys_go_to_slot0_owner(two, cluster):
    p = two.client()
    ref = cluster.redis(name="ref").client()
    g0 = 0
    assert two.ranges[g0][0] == 0   # g1 owns slot 0
    # an undeclared key written by a keyless script lands on the owner of slot 0
    k = keys_for_group(two.ranges, 1, 1, "nk")[0]
    for _ in range(3):
        assert p.eval(f"return redis.call('incr', '{k}')", 0) in (1, 2, 3)
    assert two.direct(g0).get(k) == b"3" and two.direct(1).get(k) is None
    # malformed numkeys: the node answers, with Redis's own words
    for args in (("abc",), ("5", "k"), ("-1",), ("1",)):
        assert err(p.eval, "return 1", *args) == err(ref.eval, "return 1", *args)


def test_script_load_exists_flush_broadcast(two):
    p = two.client()
    sha = p.script_load(SET_SCRIPT)
    for g in range(2):
        assert two.direct(g).script_exists(sha) == [True]
    for g in range(2):
        k = keys_for_group(two.ranges, g, 1, "sl")[0]
        assert p.evalsha(sha, 1, k, "v") == b"OK"
    # EXISTS is 1 only where every group has it
    only_g2 = two.direct(1).script_load("return 'only on g2'")
    assert p.script_exists(sha, only_g2, "f" * 40) == [True, False, False]
    # a body that does not compile: the groups' error
    e = err(p.script_load, "return +")
    assert e.startswith("Error compiling script")
    # FLUSH: everywhere, and the proxy forgets the bodies (no healing of a
    # flushed script)
    assert p.script_flush() is True
    for g in range(2):
        assert two.direct(g).script_exists(sha) == [False]
    k = keys_for_group(two.ranges, 1, 1, "sl")[0]
    with pytest.raises(redis.exceptions.NoScriptError):
        p.evalsha(sha, 1, k, "v")
    assert err(p.execute_command, "SCRIPT", "DEBUG", "YES") == \
        "command 'script|debug' is not supported by strata-proxy"
    # wrong arity is answered by a group, as Redis words it
    assert "wrong number of arguments" in err(p.execute_command, "SCRIPT", "LOAD")


def test_noscript_healed(two, cluster):
    p = two.client()
    k2 = keys_for_group(two.ranges, 1, 1, "heal")[0]
    sha = p.script_load(SET_SCRIPT)
    # the group restarted: its script cache is empty
    b = two.backends[1]
    b.stop()
    b.start()
    wait_until(lambda: p.set(k2, "warm") and True, 10, what="proxy reconnected to g2")
    assert two.direct(1).script_exists(sha) == [False]
    assert p.evalsha(sha, 1, k2, "healed") == b"OK"
    assert two.direct(1).get(k2) == b"healed"
    assert two.direct(1).script_exists(sha) == [True]
    # flushed behind the proxy's back: the NOSCRIPT is answered by loading
    # the script there and sending the EVALSHA again
    two.direct(1).script_flush()
    assert p.evalsha(sha, 1, k2, "retried") == b"OK"
    assert two.direct(1).get(k2) == b"retried"
    assert f"has no script {sha}: loading it there and retrying" in two.proxy.tail(50)
    info = p.info("server")
    assert info["noscript_retries"] == 1 and info["script_loads"] == 1
    assert info["scripts_cached"] == 1
    # a group never told: EVAL on g1 caches the body, EVALSHA on g2 heals
    body = "return 'from ' .. KEYS[1]"
    k1 = keys_for_group(two.ranges, 0, 1, "heal")[0]
    assert p.eval(body, 1, k1) == b"from " + k1.encode()
    sha2 = two.direct(0).script_load(body)
    assert two.direct(1).script_exists(sha2) == [False]
    assert p.evalsha(sha2, 1, k2) == b"from " + k2.encode()
    # a group that was down during SCRIPT LOAD
    b.stop()
    body3 = "return 3"
    e = err(p.script_load, body3)
    assert e  # the down group's error
    b.start()
    wait_until(lambda: p.set(k2, "warm") and True, 10, what="proxy reconnected to g2")
    sha3 = two.direct(0).script_load(body3)
    assert p.evalsha(sha3, 1, k2) == 3
    # a sha the proxy never saw stays NOSCRIPT, with Redis's text
    with pytest.raises(redis.exceptions.NoScriptError) as e:
        p.evalsha("a" * 40, 1, k2)
    assert str(e.value) == "No matching script. Please use EVAL."
    # pipelined EVALSHAs on the link that reconnected after the restart
    # above: the script goes in front of the first one, so each keeps its
    # place among the commands after it
    pipe = p.pipeline(transaction=False)
    for i in range(20):
        pipe.evalsha(sha, 1, k2, str(i))
        pipe.get(k2)
    out = pipe.execute()
    assert out == [x for i in range(20) for x in (b"OK", str(i).encode())]
    # inside MULTI: the script goes in front of the transaction
    b.stop()
    b.start()
    wait_until(lambda: p.set(k2, "warm") and True, 10, what="proxy reconnected to g2")
    tx = p.pipeline(transaction=True)
    tx.evalsha(sha, 1, k2, "in-multi")
    tx.get(k2)
    assert tx.execute() == [b"OK", b"in-multi"]


def test_function_healed(two):
    """A group that was down during FUNCTION LOAD gets the library from the
    proxy at its first FCALL (proxy/script.h); libraries deleted through
    the proxy are not brought back."""
    p = two.client()
    k1 = keys_for_group(two.ranges, 0, 1, "fnheal")[0]
    k2 = keys_for_group(two.ranges, 1, 1, "fnheal")[0]
    b = two.backends[1]
    b.stop()
    assert err(p.execute_command, "FUNCTION", "LOAD", LIB)   # the down group's error
    b.start()
    wait_until(lambda: p.set(k2, "warm") and True, 10, what="proxy reconnected to g2")
    assert two.direct(1).execute_command("FUNCTION", "LIST") == []
    assert p.execute_command("FCALL", "myset", 1, k1, "a") == b"OK"
    assert p.execute_command("FCALL", "myset", 1, k2, "b") == b"OK"
    assert two.direct(1).get(k2) == b"b"
    assert len(two.direct(1).execute_command("FUNCTION", "LIST")) == 1
    assert "loading the 1 library kept here and retrying" in two.proxy.tail(50)
    info = p.info("server")
    assert info["function_heals"] == 1 and info["libraries_kept"] == 1
    # a library the group already has is left as it is (no REPLACE): a
    # newer version loaded straight on g2 survives a heal of another one
    lib2 = "#!lua name=lib2\nredis.register_function('f2', function() return 2 end)\n"
    assert p.execute_command("FUNCTION", "LOAD", lib2) == b"lib2"
    two.direct(1).execute_command("FUNCTION", "DELETE", "lib2")
    mine = LIB.replace("return redis.call('get', keys[1])", "return 'mine'")
    two.direct(1).execute_command("FUNCTION", "LOAD", "REPLACE", mine)
    assert p.execute_command("FCALL", "f2", 1, k2) == 2              # healed on g2
    assert p.execute_command("FCALL_RO", "myget", 1, k2) == b"mine"  # not replaced
    assert p.info("server")["function_heals"] == 2
    # FUNCTION DELETE through the proxy: nothing is brought back
    assert p.execute_command("FUNCTION", "DELETE", "mylib") == b"OK"
    assert err(p.execute_command, "FCALL", "myset", 1, k2, "c") == "Function not found"
    assert p.info("server")["libraries_kept"] == 1
    # FUNCTION FLUSH forgets them all
    assert p.execute_command("FUNCTION", "FLUSH") == b"OK"
    assert p.info("server")["libraries_kept"] == 0


def test_function_broadcast(two):
    function_broadcast(two.client(), two.direct, two.ranges, two.proxy)


def test_function_broadcast_strata(strata):
    function_broadcast(strata.client(socket_timeout=10),
                       lambda g: strata.groups[g][0].client(socket_timeout=10), NODE_RANGES,
                       strata)


def function_broadcast(p, direct, ranges, proxy):
    assert p.execute_command("FUNCTION", "LOAD", LIB) == b"mylib"
    for g in range(2):
        k = keys_for_group(ranges, g, 1, "fn")[0]
        assert p.execute_command("FCALL", "myset", 1, k, f"v{g}") == b"OK"
        assert p.execute_command("FCALL_RO", "myget", 1, k) == f"v{g}".encode()
        assert direct(g).get(k) == f"v{g}".encode()
    # the same error everywhere is passed on as it is
    assert err(p.execute_command, "FUNCTION", "LOAD", LIB) == "Library 'mylib' already exists"
    lst = p.execute_command("FUNCTION", "LIST")
    assert len(lst) == 1
    dump = p.execute_command("FUNCTION", "DUMP")
    assert p.execute_command("FUNCTION", "DELETE", "mylib") == b"OK"
    for g in range(2):
        assert direct(g).execute_command("FUNCTION", "LIST") == []
    assert p.execute_command("FUNCTION", "RESTORE", dump) == b"OK"
    for g in range(2):
        assert len(direct(g).execute_command("FUNCTION", "LIST")) == 1
    # divergence: a library only g2 has
    lib2 = "#!lua name=lib2\nredis.register_function('f2', function() return 2 end)\n"
    direct(1).execute_command("FUNCTION", "LOAD", lib2)
    e = err(p.execute_command, "FUNCTION", "LOAD", lib2)
    assert e == ("strata-proxy: FUNCTION LOAD diverged across groups: g1 replied 'lib2', "
                 "g2 replied 'ERR Library 'lib2' already exists'")
    assert "FUNCTION LOAD diverged across groups" in proxy.tail(200)
    assert p.execute_command("FUNCTION", "FLUSH") == b"OK"
    for g in range(2):
        assert direct(g).execute_command("FUNCTION", "LIST") == []
    assert err(p.execute_command, "FCALL", "myset", 1, "k", "v") == "Function not found"


def busy_backends(two, ms=100):
    for g in range(2):
        two.direct(g).config_set("busy-reply-threshold", ms)


def start_in_thread(fn):
    box = {}

    def run():
        try:
            box["ok"] = fn()
        except Exception as e:  # noqa: BLE001 - inspected by the test
            box["err"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


def wait_busy(two, g):
    def busy():
        try:
            two.direct(g, socket_timeout=2).ping()
            return False
        except redis.exceptions.BusyLoadingError:
            return True
        except redis.ResponseError as e:
            return str(e).startswith("BUSY")
    wait_until(busy, 10, what=f"group {g + 1} busy")


def test_script_kill(two):
    busy_backends(two)
    p = two.client()
    assert err(p.script_kill) == "NOTBUSY No scripts in execution right now."
    k2 = keys_for_group(two.ranges, 1, 1, "kill")[0]
    t, box = start_in_thread(lambda: two.client(socket_timeout=30).eval(
        "local i = 0 while true do i = i + 1 end", 1, k2))
    wait_busy(two, 1)
    assert p.script_kill() is True
    t.join(10)
    assert "Script killed by user" in str(box.get("err"))
    assert p.set(k2, "after") is True   # the shared link recovered
    # FUNCTION KILL
    p.execute_command("FUNCTION", "LOAD", "#!lua name=spin\nredis.register_function{"
                      "function_name='spin', callback=function() while true do end end, "
                      "flags={'no-writes'}}\n")
    t, box = start_in_thread(lambda: two.client(socket_timeout=30).execute_command(
        "FCALL", "spin", 0))
    wait_busy(two, 0)
    assert p.execute_command("FUNCTION", "KILL") == b"OK"
    t.join(10)
    assert "killed" in str(box.get("err"))
    # a script that already wrote cannot be killed
    t, box = start_in_thread(lambda: two.client(socket_timeout=30).eval(
        "redis.call('set', KEYS[1], 'x') while true do end", 1, k2))
    wait_busy(two, 1)
    assert err(p.script_kill).startswith("UNKILLABLE Sorry the script already executed write commands")
    two.backends[1].kill()
    t.join(15)


def test_eval_in_multi(two):
    p = two.client()
    k2 = keys_for_group(two.ranges, 1, 1, "tx")[0]
    pipe = p.pipeline(transaction=True)
    pipe.eval(SET_SCRIPT, 1, k2, "in-tx")
    pipe.get(k2)
    pipe.eval("return 5", 0)
    assert pipe.execute() == [b"OK", b"in-tx", 5]
    k1 = keys_for_group(two.ranges, 0, 1, "tx")[0]
    r = Resp3Conn(two.proxy.port)
    assert r.call("MULTI") == b"+OK\r\n"
    assert r.call("SET", k1, "1") == b"+QUEUED\r\n"
    assert r.call("EVAL", GET_SCRIPT, "1", k2).startswith(b"-CROSSSLOT")
    assert r.call("EXEC").startswith(b"-EXECABORT")
    assert r.call("MULTI") == b"+OK\r\n"
    assert r.call("EVAL", "return 1", "2", k1, k2).startswith(b"-CROSSSLOT")
    assert r.call("DISCARD") == b"+OK\r\n"
    r.close()


DIFF_SCRIPTS = [
    ("return {1, 2, {3, 'x'}, 'y'}", []),
    ("return {1, nil, 3}", []),
    ("return 3.99", []),
    ("return true", []),
    ("return false", []),
    ("return {err='CUSTOM boom'}", []),
    ("return redis.status_reply('FINE')", []),
    ("error('boom')", []),
    ("return redis.call('hgetall', KEYS[1])", ["{d}h"]),
    ("redis.call('hset', KEYS[1], 'a', '1', 'b', '2') return redis.call('hgetall', KEYS[1])",
     ["{d}h"]),
    ("return redis.call('smembers', KEYS[1])", ["{d}s"]),
    ("return redis.call('zrange', KEYS[1], 0, -1, 'withscores')", ["{d}z"]),
    ("return redis.pcall('incr', KEYS[1])", ["{d}h"]),
    ("return redis.call('incr', KEYS[1])", ["{d}h"]),
    ("redis.setresp(3) return redis.call('hgetall', KEYS[1])", ["{d}h"]),
    ("redis.setresp(3) return redis.call('zscore', KEYS[1], 'm')", ["{d}z"]),
    ("return cjson.encode({a=1})", []),
    ("return KEYS[1] .. ARGV[1]", ["{d}k", "arg"]),
    ("return redis.sha1hex('')", []),
    ("return nosuch()", []),
    ("return +", []),
]


def differential(cluster, proxy_port, proto):
    ref_srv = cluster.redis(name=f"ref{proto}")
    conns = [Resp3Conn(proxy_port), Resp3Conn(ref_srv.port)]
    try:
        for c in conns:
            if proto == 3:
                assert c.call("HELLO", "3").startswith(b"%")
            c.call("FLUSHALL")
            c.call("SADD", "{d}s", "m1")
            c.call("ZADD", "{d}z", "1.5", "m")
        for body, keys_args in DIFF_SCRIPTS:
            nk = sum(1 for a in keys_args if a.startswith("{d}"))
            args = ["EVAL", body, str(nk)] + keys_args
            got = [c.call(*args) for c in conns]
            assert got[0] == got[1], f"EVAL {body!r}: proxy {got[0]!r} vs redis {got[1]!r}"
            sha = conns[1].call("SCRIPT", "LOAD", body)
            if sha.startswith(b"$"):
                sha = sha.split(b"\r\n")[1].decode()
                got = [c.call("EVALSHA", sha, str(nk), *keys_args) for c in conns]
                assert got[0] == got[1], f"EVALSHA {body!r}: {got[0]!r} vs {got[1]!r}"
        for args in (["SCRIPT", "EXISTS", "0" * 40], ["SCRIPT", "FLUSH"],
                     ["SCRIPT", "KILL"], ["FUNCTION", "LIST"], ["FUNCTION", "FLUSH"],
                     ["FUNCTION", "KILL"], ["FUNCTION", "STATS"], ["SCRIPT", "NOPE"]):
            got = [c.call(*args) for c in conns]
            assert got[0] == got[1], f"{args}: proxy {got[0]!r} vs redis {got[1]!r}"
    finally:
        for c in conns:
            c.close()


@pytest.mark.parametrize("proto", [2, 3])
def test_differential_vs_redis(two, cluster, proto):
    differential(cluster, two.proxy.port, proto)


# ---- on the strata-node cluster (two groups with a replica each, three
# sentinels, slot tables seeded by the sentinels) ----

NODE_RANGES = [(0, 8191), (8192, 16383)]


@pytest.fixture
def strata(cluster):
    from test_cluster_slots import table
    g1 = start_group(cluster, "g1")
    g2 = start_group(cluster, "g2")
    ports = [free_port() for _ in range(3)]
    topo = write_topology(cluster, [("g1", "0-8191", g1), ("g2", "8192-16383", g2)], ports,
                          proxy={"timeout_ms": 3000, "switch_wait_ms": 8000,
                                 "sentinel_poll_ms": 200})
    sents = start_sentinels(cluster, topo, ports)
    for name, nodes in (("g1", g1), ("g2", g2)):
        for p in nodes:
            wait_until(lambda p=p, name=name: table(p)["group"] == name, 20,
                       what=f"{p.name} seeded")
    proxy = cluster.proxy(topo)
    proxy.groups, proxy.sents = (g1, g2), sents
    return proxy


def test_undeclared_key_of_another_group_refused(strata):
    p = strata.client(socket_timeout=10)
    g1, g2 = strata.groups
    k1 = keys_for_group(NODE_RANGES, 0, 1, "und")[0]
    k2 = keys_for_group(NODE_RANGES, 1, 1, "und")[0]
    nonlocal_err = "Script attempted to access a non local key in a cluster node"
    # declared k1 (g1), writes k2 which g2 owns: refused on g1, nothing written
    e = err(p.eval, "redis.call('set', KEYS[1], 'a') return redis.call('set', ARGV[1], 'b')",
            1, k1, k2)
    assert e.startswith(nonlocal_err) and "script:" in e, e
    assert p.get(k1) == b"a"      # writes before the error are kept, as in Redis
    assert p.get(k2) is None
    assert g1[0].client().dbsize() == 1
    # a keyless script runs on g1 (slot 0's owner): g2's keys are refused there
    assert err(p.eval, f"return redis.call('set', '{k2}', 'c')", 0).startswith(nonlocal_err)
    assert p.get(k2) is None and g2[0].client().dbsize() == 0
    # redis.pcall hands the error to the script
    assert p.eval(f"return redis.pcall('get', '{k2}')['err']", 0) == \
        ("ERR " + nonlocal_err).encode()
    # undeclared keys the group owns are fine (compat mode: any owned slot)
    k1b = keys_for_group(NODE_RANGES, 0, 2, "und")[1]
    assert p.eval(f"return redis.call('set', '{k1b}', 'd')", 1, k1) == b"OK"
    # a shebang script must keep to one slot unless allow-cross-slot-keys
    assert err(p.eval, f"#!lua\nreturn redis.call('get', '{k1b}')", 1, k1).startswith(
        "Script attempted to access keys that do not hash to the same slot script:")
    assert p.eval(f"#!lua flags=allow-cross-slot-keys\nreturn redis.call('get', '{k1b}')",
                  1, k1) == b"d"
    # FCALL follows the same rule
    p.execute_command("FUNCTION", "LOAD", LIB)
    assert p.execute_command("FCALL", "myset", 1, k2, "e") == b"OK"
    assert p.get(k2) == b"e"


def test_noscript_healed_after_failover(strata):
    from test_sentinel_common import role, wait_master, addr
    p = strata.client(socket_timeout=10)
    g1, g2 = strata.groups
    k2 = keys_for_group(NODE_RANGES, 1, 1, "fo")[0]
    sha = p.script_load(SET_SCRIPT)
    assert p.evalsha(sha, 1, k2, "before") == b"OK"
    # the replica never had the script (Redis 7.0's cache is not replicated)
    assert g2[1].client().script_exists(sha) == [False]
    g2[0].kill()
    wait_until(lambda: role(g2[1]) == "master", 20, what="g2 replica promoted")
    wait_master(strata.sents[1:], "g2", addr(g2[1]))
    wait_until(lambda: p.get(k2) == b"before", 20, what="proxy follows the failover")
    assert p.evalsha(sha, 1, k2, "after") == b"OK"
    assert g2[1].client().get(k2) == b"after"
    assert g2[1].client().script_exists(sha) == [True]


def test_script_kill_on_nodes(strata):
    p = strata.client(socket_timeout=10)
    g1, g2 = strata.groups
    g2[0].client().config_set("busy-reply-threshold", 100)
    k2 = keys_for_group(NODE_RANGES, 1, 1, "nkill")[0]
    assert err(p.script_kill) == "NOTBUSY No scripts in execution right now."
    t, box = start_in_thread(lambda: strata.client(socket_timeout=30).eval(
        "local i = 0 while true do i = i + 1 end", 1, k2))

    def busy():
        try:
            g2[0].client(socket_timeout=1).ping()
            return False
        except redis.ResponseError as e:
            return str(e).startswith("BUSY")
    wait_until(busy, 5, what="g2 busy")
    assert p.script_kill() is True
    t.join(10)
    assert "Script killed by user" in str(box.get("err"))
    assert p.set(k2, "after") is True


@pytest.mark.parametrize("proto", [2, 3])
def test_differential_strata_vs_redis(strata, cluster, proto):
    differential(cluster, strata.port, proto)
