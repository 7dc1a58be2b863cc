"""Scripting on strata-node: EVAL*, SCRIPT, FUNCTION, FCALL* against
redis-server 7.0 byte for byte (RESP2 and RESP3), and what a disk store
adds: one commit per script (SIGKILL leaves all or none), one replication
record, libraries that persist and replicate, busy scripts that leave the
node serving, and the heap and recursion caps.

The differential part has a Differ family "script" (scripts built from a
grammar of redis.call lines, seeded: STRATA_SEED=N replays) and a table of
fixed cases sent to both servers.
"""
import random
import socket
import signal
import threading
import time

import pytest
import redis

import difftest
from difftest import BASE_SEED, Cmd, RespConn, generator, n, run_diff
from harness import wait_until
from test_repl_common import lsn, start_replica, wait_synced, logical_dump

# --- the "script" family -----------------------------------------------------

# One line of a script: (template, writes).  {k} is a KEYS[i] expression,
# {v} an ARGV[i] or a literal.
LINES = [
    ("redis.call('set', {k}, {v})", True),
    ("redis.call('get', {k})", False),
    ("redis.pcall('incr', {k})", True),
    ("redis.call('del', {k})", True),
    ("redis.pcall('hset', {k}, 'f', {v})", True),
    ("redis.pcall('hgetall', {k})", False),
    ("redis.pcall('rpush', {k}, {v}, 'x')", True),
    ("redis.pcall('lrange', {k}, 0, -1)", False),
    ("redis.pcall('zadd', {k}, 1.5, {v})", True),
    ("redis.pcall('zrange', {k}, 0, -1, 'withscores')", False),
    ("redis.call('exists', {k})", False),
    ("redis.pcall('type', {k})", False),
    ("redis.pcall('ttl', {k})", False),
    ("redis.pcall('sismember', {k}, {v})", False),
    ("redis.pcall('strlen', {k})", False),
    ("redis.pcall('nosuchcommand', {k})", False),
    ("redis.pcall('get')", False),
    ("redis.pcall('incrbyfloat', {k}, 0.1)", True),
]

RETURNS = [
    "return r", "return {r}", "return {r, 1, 'x'}", "return type(r)", "return r == false",
    "return cjson.encode({type(r)})", "return 3.7", "return -2.5", "return {1, nil, 3}",
    "return {ok='fine'}", "return {err='MYERR broken'}", "return redis.error_reply('bad thing')",
    "return redis.status_reply('good')", "return true", "return false", "return nil",
    "return {double=2.25}", "return {map={a=1}}", "return {set={x=true}}", "return {1, {2, {3}}}",
]


@generator("script")
def gen_script(ctx):
    keys = ctx.keys(1, 3)
    args = [ctx.value() for _ in range(ctx.r.randrange(1, 3))]
    lines, write = [], False
    if ctx.r.random() < 0.25:
        lines.append("redis.setresp(3)")
    for _ in range(ctx.r.randrange(1, 5)):
        tmpl, w = ctx.r.choice(LINES)
        k = f"KEYS[{ctx.r.randrange(1, len(keys) + 1)}]"
        v = f"ARGV[{ctx.r.randrange(1, len(args) + 1)}]" if ctx.r.random() < 0.7 else repr(str(ctx.r.randrange(100)))
        lines.append("local r = " + tmpl.format(k=k, v=v))
        write |= w
    lines.append(ctx.r.choice(RETURNS))
    body = " ".join(lines) if ctx.r.random() < 0.5 else "\n".join(lines)
    cmd = b"EVAL_RO" if ctx.r.random() < 0.15 else b"EVAL"
    return Cmd([cmd, body.encode(), str(len(keys)).encode()] + keys + args, keys=keys, write=write)


# Fixed cases: sent to both servers, replies compared byte for byte.
FIXED = [
    ["EVAL", "return 1", "0"],
    ["EVAL", "return {1,2,{3,'x'},nil,5}", "0"],
    ["EVAL", "return KEYS[1]..ARGV[1]", "1", "k", "v"],
    ["EVAL", "a=10", "0"],
    ["EVAL", "return undefined_global", "0"],
    ["EVAL", "cjson.x = 1", "0"],
    ["EVAL", "string.upper = nil", "0"],
    ["EVAL", "rawset(_G, 'x', 1)", "0"],
    ["EVAL", "setmetatable(_G, nil)", "0"],
    ["EVAL", "getmetatable('').__index = nil", "0"],
    ["EVAL", "getmetatable('').__index.upper = nil", "0"],
    ["EVAL", "local m = getmetatable(_G) m.__index = nil return 1", "0"],
    ["EVAL", "return {type(getmetatable(_G)), type(getmetatable(string)), type(getmetatable(cjson))}", "0"],
    ["EVAL", "local t = setmetatable({}, {__metatable='no'}) return getmetatable(t)", "0"],
    ["EVAL", "local t = {} for k in pairs(_G) do t[#t+1] = k end table.sort(t) return t", "0"],
    ["EVAL", "local t = {} for k in pairs(string) do t[#t+1] = k end table.sort(t) return t", "0"],
    ["EVAL", "local t = {} for k in pairs(redis) do t[#t+1] = k end table.sort(t) return t", "0"],
    ["EVAL", "return next(math) ~= nil", "0"],
    ["EVAL", "loadstring('x=1')()", "0"],
    ["EVAL", "return loadstring(string.dump(function() end))", "0"],
    ["EVAL", "return {type(print), type(dofile), type(loadfile)}", "0"],
    ["EVAL", "return type(os)", "0"],
    ["EVAL", "return _VERSION", "0"],
    ["EVAL", "error('boom')", "0"],
    ["EVAL", "error({err='CUSTOM boom'})", "0"],
    ["EVAL", "error()", "0"],
    ["EVAL", "return {pcall(redis.call, 'nosuch')}", "0"],
    ["EVAL", "return {pcall(error, {err='x'})}", "0"],
    ["EVAL", "redis.call('set', 'fx', 'a') return redis.call('incr', 'fx')", "0"],
    ["EVAL", "return redis.pcall('incr', 'fx')", "0"],
    ["EVAL", "return redis.call('nosuch')", "0"],
    ["EVAL", "return redis.call('get')", "0"],
    ["EVAL", "return redis.call()", "0"],
    ["EVAL", "return redis.call('get', {})", "0"],
    ["EVAL", "return redis.call('multi')", "0"],
    ["EVAL", "return redis.call('blpop', 'l', 0)", "0"],
    ["EVAL", "return redis.call('eval', 'return 1', 0)", "0"],
    ["EVAL", "return redis.call('set', 'n', 0.1)", "0"],
    ["EVAL", "return redis.call('get', 'n')", "0"],
    ["EVAL", "return redis.call('set', 'n', 3.0) and redis.call('get', 'n')", "0"],
    ["EVAL", "return 3.99", "0"], ["EVAL", "return -3.7", "0"], ["EVAL", "return -0.5", "0"],
    ["EVAL", "return 0/0", "0"], ["EVAL", "return 1e20", "0"],
    ["EVAL", "return true", "0"], ["EVAL", "return false", "0"], ["EVAL", "return nil", "0"],
    ["EVAL", "return {1, false, 3}", "0"],
    ["EVAL", "return {err='boom'}", "0"],
    ["EVAL", "return {ok='a\\r\\nb'}", "0"],
    ["EVAL", "return {ok=1}", "0"],
    ["EVAL", "return {double='x'}", "0"],
    ["EVAL", "return {double=1.5}", "0"],
    ["EVAL", "return {big_number='123456789012345678901234567890'}", "0"],
    ["EVAL", "return {verbatim_string={format='txt', string='hello'}}", "0"],
    ["EVAL", "return {map={a=1}}", "0"],
    ["EVAL", "return {set={a=true}}", "0"],
    ["EVAL", "return redis.error_reply('boom')", "0"],
    ["EVAL", "return redis.error_reply('My Error')", "0"],
    ["EVAL", "return redis.error_reply('-X y')", "0"],
    ["EVAL", "return redis.error_reply(1)", "0"],
    ["EVAL", "return redis.status_reply('fine')", "0"],
    ["EVAL", "return redis.status_reply()", "0"],
    ["EVAL", "return redis.sha1hex('abc')", "0"],
    ["EVAL", "return redis.sha1hex()", "0"],
    ["EVAL", "redis.setresp(4)", "0"],
    ["EVAL", "redis.setresp()", "0"],
    ["EVAL", "redis.setresp(3) return redis.call('hgetall', 'nokey')", "0"],
    ["EVAL", "redis.setresp(3) return redis.call('get', 'nokey')", "0"],
    ["EVAL", "redis.setresp(3) return false", "0"],
    ["EVAL", "redis.setresp(3) return true", "0"],
    ["EVAL", "redis.setresp(3) redis.call('hset', 'hh', 'a', '1') return redis.call('hgetall', 'hh')", "0"],
    ["EVAL", "redis.setresp(3) return redis.call('zscore', 'nz', 'm')", "0"],
    ["EVAL", "redis.call('zadd', 'zz', 1.5, 'm') redis.setresp(3) return redis.call('zscore', 'zz', 'm')", "0"],
    ["EVAL", "redis.setresp(3) return {redis.call('zscore', 'zz', 'm')}", "0"],
    ["EVAL", "return redis.call('zscore', 'zz', 'm')", "0"],
    # containers: a script may run the subcommands Redis does not flag noscript
    ["EVAL", "return redis.call('config', 'help')[1]", "0"],
    ["EVAL", "return redis.call('config', 'get', 'maxmemory')", "0"],
    ["EVAL", "return redis.call('client', 'help')[1]", "0"],
    ["EVAL", "return redis.call('client', 'list')", "0"],
    ["EVAL", "return redis.call('latency', 'help')[1]", "0"],
    ["EVAL", "return redis.call('function', 'help')[1]", "0"],
    ["EVAL", "return redis.call('script', 'help')[1]", "0"],
    ["EVAL", "return redis.call('script', 'flush')", "0"],
    ["EVAL", "return redis.call('config', 'nosuch')", "0"],
    ["EVAL", "return redis.call('config', 'get')", "0"],
    ["EVAL", "return redis.set_repl(redis.REPL_ALL)", "0"],
    ["EVAL", "return redis.set_repl(99)", "0"],
    ["EVAL", "return redis.replicate_commands()", "0"],
    ["EVAL", "return redis.breakpoint()", "0"],
    ["EVAL", "return redis.acl_check_cmd('get', 'x')", "0"],
    ["EVAL", "return redis.acl_check_cmd('nosuch')", "0"],
    ["EVAL", "return {redis.LOG_WARNING, redis.REPL_REPLICA, redis.REDIS_VERSION_NUM}", "0"],
    ["EVAL", "redis.log(redis.LOG_NOTICE, 'hello', 'there') return 1", "0"],
    ["EVAL", "redis.log(9, 'x')", "0"],
    ["EVAL", "math.randomseed(1) return {math.random(100), math.random(100)}", "0"],
    ["EVAL", "return cjson.encode({a=1})", "0"],
    ["EVAL", "return cjson.decode('[1,2,3]')", "0"],
    ["EVAL", "return cmsgpack.unpack(cmsgpack.pack({1,2,'x'}))", "0"],
    ["EVAL", "return bit.band(7, 3)", "0"],
    ["EVAL", "return {bit.tohex(65535), bit.tohex(65535, -4), bit.tohex(65535, 2)}", "0"],
    ["EVAL", "return bit.tohex(65535, -2147483648)", "0"],
    ["EVAL", "return struct.pack('>I', 258)", "0"],
    ["EVAL", "return 'x", "0"],
    ["EVAL", "#!lua\nerror('x')", "0"],
    ["EVAL", "#!lua", "0"],
    ["EVAL", "#!python\nreturn 1", "0"],
    ["EVAL", "#!lua flags=bogus\nreturn 1", "0"],
    ["EVAL", "#!lua name=x\nreturn 1", "0"],
    ["EVAL", "#!lua flags=no-writes\nreturn redis.call('set', 'a', 'b')", "0"],
    ["EVAL", "#!lua flags=no-writes,allow-oom\nreturn redis.call('get', 'a')", "0"],
    ["EVAL_RO", "return redis.call('set', 'a', 'b')", "0"],
    ["EVAL_RO", "return redis.call('publish', 'ch', 'm')", "0"],
    ["EVAL_RO", "#!lua\nreturn 1", "0"],
    ["EVAL_RO", "#!lua flags=no-writes\nreturn 1", "0"],
    ["EVAL", "return 1", "x"], ["EVAL", "return 1", "3", "a"], ["EVAL", "return 1", "-1"],
    ["EVALSHA", "1234", "0"],
    ["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"],
    ["SCRIPT", "LOAD", "return 'loaded'"],
    ["EVALSHA", "2c8c5ae2fe6c4d27ac2bc0a4c9a0dde8bf0ecb6f", "0"],
    ["SCRIPT", "EXISTS", "2c8c5ae2fe6c4d27ac2bc0a4c9a0dde8bf0ecb6f", "2C8C5AE2FE6C4D27AC2BC0A4C9A0DDE8BF0ECB6F", "x"],
    ["SCRIPT", "LOAD", "return 'x"],
    ["SCRIPT", "FLUSH", "bad"],
    ["SCRIPT", "KILL"],
    ["SCRIPT", "HELP"],
    ["SCRIPT", "NOSUCH"],
    ["SCRIPT", "FLUSH"],
    ["SCRIPT", "EXISTS", "2c8c5ae2fe6c4d27ac2bc0a4c9a0dde8bf0ecb6f"],
    ["MULTI"], ["EVAL", "return redis.call('incr', 'mx')", "0"], ["EXEC"],
    # what a run does to KEYS and ARGV is not seen by the next (strata
    # reuses the tables)
    ["EVAL", "table.insert(KEYS, 'x'); return #KEYS", "1", "a"], ["EVAL", "return KEYS", "1", "a"],
    ["EVAL", "KEYS.foo = 1; ARGV[9] = 'n'; return 1", "0"],
    ["EVAL", "return {tostring(KEYS.foo), #ARGV, tostring(ARGV[9])}", "0"],
    ["EVAL", "setmetatable(ARGV, {__index = function() return 'm' end}); return 1", "0", "q"],
    ["EVAL", "return {tostring(ARGV[5]), ARGV[1]}", "0", "r"],
    ["EVAL", "return {KEYS, ARGV}", "3", "a", "b", "c", "d"], ["EVAL", "return {KEYS, ARGV}", "1", "z"],
    ["EVAL", "KEYS[1] = nil; return #KEYS", "2", "a", "b"], ["EVAL", "return KEYS", "2", "c", "d"],
    # functions
    ["FUNCTION", "FLUSH"],
    ["FUNCTION", "LOAD", "#!lua name=mylib\nredis.register_function('g', function(k, a) return redis.call('set', k[1], a[1]) end)"],
    ["FCALL", "g", "1", "fk", "fv"],
    ["FCALL_RO", "g", "1", "fk", "fv"],
    ["FCALL", "g", "x"], ["FCALL", "g", "-1"], ["FCALL", "g", "5", "a"], ["FCALL", "nosuch", "0"],
    ["FUNCTION", "LOAD", "#!lua name=e\nredis.register_function{function_name='e1', callback=function(k, a) error('boom') end, flags={'no-writes'}, description='dd'}"],
    ["FCALL", "e1", "0"], ["FCALL_RO", "e1", "0"],
    # (several libraries list in Redis's dict order: one at a time here)
    ["FUNCTION", "LIST", "LIBRARYNAME", "e"], ["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "mylib"],
    ["FUNCTION", "LIST", "LIBRARYNAME", "my*"],
    ["FUNCTION", "LIST", "LIBRARYNAME"], ["FUNCTION", "LIST", "BOGUS"],
    ["FUNCTION", "STATS"], ["FUNCTION", "HELP"], ["FUNCTION", "KILL"],
    ["FUNCTION", "LOAD", "#!lua\nreturn 1"],
    ["FUNCTION", "LOAD", "#!js name=x\n"],
    ["FUNCTION", "LOAD", "#!lua name=x\n"],
    ["FUNCTION", "LOAD", "#!lua name=x"],
    ["FUNCTION", "LOAD", "#!lua name=x foo=bar\n"],
    ["FUNCTION", "LOAD", "#!lua name=x name=y\n"],
    ["FUNCTION", "LOAD", "#!lua name=a-b\n"],
    ["FUNCTION", "LOAD", "return 1"],
    ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('a-b', function() end)"],
    ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{function_name='z', callback=function() end, flags={'bogus'}}"],
    ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('z', 1)"],
    ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{function_name='z', callback=function() end, foo=1}"],
    ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function()"],
    ["FUNCTION", "LOAD", "#!lua name=a\nredis.call('set','x','y')"],
    ["FUNCTION", "LOAD", "#!lua name=a\nredis.register_function('g', function() end)"],
    ["FUNCTION", "LOAD", "#!lua name=mylib\nredis.register_function('g', function() end)"],
    ["FUNCTION", "LOAD", "REPLACE", "#!lua name=mylib\nredis.register_function('g', function() return 'replaced' end)"],
    ["FCALL", "g", "0"],
    ["FUNCTION", "LOAD", "#!lua name=a\nx("],
    ["FUNCTION", "DELETE", "nosuch"], ["FUNCTION", "DELETE", "e"], ["FUNCTION", "FLUSH", "bad"],
    ["FCALL", "e1", "0"],
    ["FLUSHALL"], ["FCALL", "g", "0"],
    ["FUNCTION", "FLUSH"], ["FCALL", "g", "0"],
]


@pytest.mark.parametrize("proto", [2, 3])
def test_fixed_cases(pair, proto):
    node, ref = pair
    a, b = RespConn("127.0.0.1", node.port, proto=proto), RespConn("127.0.0.1", ref.port, proto=proto)
    for conn in (a, b):
        conn.call(b"FLUSHALL")
        conn.call(b"FUNCTION", b"FLUSH")
        conn.call(b"SCRIPT", b"FLUSH")
    bad = []
    for args in FIXED:
        a.send(args)
        b.send(args)
        ra, rb = a.read()[0], b.read()[0]
        if ra != rb:
            bad.append(f"{args!r}\n  strata:    {ra!r}\n  reference: {rb!r}")
    assert not bad, "\n".join(bad)
    assert node.client().ping()


@pytest.mark.parametrize("proto", [2, 3])
def test_script_family_diff(pair, proto):
    node, ref = pair
    seed = BASE_SEED + proto
    _, done = run_diff(node.port, ref.port, seed, n(1500), families=["script", "string"], proto=proto,
                       weights={"script": 4.0})
    assert done == n(1500)


# --- one commit, one record ------------------------------------------------------

SCRIPT_WRITES = ("for i = 1, tonumber(ARGV[2]) do redis.call('set', ARGV[1] .. ':' .. i, ARGV[3]) end "
                 "redis.call('sadd', 'done', ARGV[1]) return 1")


def test_script_is_one_replication_record_and_replica_equals_master(cluster):
    master = cluster.node("master")
    replica = start_replica(cluster, master)
    c = master.client()
    wait_synced(master, replica)
    before = lsn(master)
    assert c.eval(SCRIPT_WRITES, 0, "s1", 25, "v") == 1
    assert lsn(master) == before + 1  # 26 writes, one record
    # A runtime error keeps the writes made before it (Redis never rolls back).
    with pytest.raises(redis.ResponseError, match="boom"):
        c.eval("redis.call('set', 'kept', '1') error('boom')", 0)
    assert c.get("kept") == b"1"
    # Reads and failed calls write nothing.
    c.set("str", "abc")
    before = lsn(master)
    c.eval("redis.pcall('incr', 'str') return redis.call('get', 'kept')", 0)
    assert lsn(master) == before
    c.function_load("#!lua name=lib\nredis.register_function('w', function(k, a) "
                    "return redis.call('set', k[1], a[1]) end)")
    wait_synced(master, replica)
    assert logical_dump(replica.client()) == logical_dump(c)
    r = replica.client()
    assert [lib[1] for lib in r.execute_command("FUNCTION", "LIST")] == [b"lib"]
    with pytest.raises(redis.ResponseError, match="read only replica"):
        r.fcall("w", 1, "x", "y")
    assert r.eval("return redis.call('get', 'kept')", 0) == b"1"
    assert c.fcall("w", 1, "fk", "fv") == b"OK"
    wait_synced(master, replica)
    assert r.get("fk") == b"fv"
    c.function_delete("lib")
    wait_synced(master, replica)
    with pytest.raises(redis.ResponseError, match="Function not found"):
        r.fcall_ro("w", 0)


def test_functions_survive_restart_and_flushall(cluster):
    node = cluster.node("node")
    c = node.client()
    c.function_load("#!lua name=plib\nredis.register_function('pf', function(k, a) return 'persisted' end)")
    c.flushall()
    node.stop()
    node.start()
    c = node.client()
    assert c.fcall("pf", 0) == b"persisted"
    c.function_flush()
    node.stop()
    node.start()
    with pytest.raises(redis.ResponseError, match="Function not found"):
        node.client().fcall("pf", 0)


def test_sigkill_during_scripts_leaves_all_or_none(cluster):
    rnd = random.Random(BASE_SEED)
    node = cluster.node("node", args=["--fsync", "always"])
    per = 40
    for rnd_round in range(4):
        stop = threading.Event()
        sent, acked = [], []

        def writer(w):
            try:
                conn = RespConn("127.0.0.1", node.port, timeout=10)
                seq = 0
                while not stop.is_set():
                    sid = f"r{rnd_round}w{w}s{seq}"
                    sent.append(sid)
                    reply = conn.call(b"EVAL", SCRIPT_WRITES, b"0", sid, str(per), b"x" * 2000)
                    if reply == 1:
                        acked.append(sid)
                    seq += 1
            except (OSError, difftest.ProtocolError, ConnectionError):
                pass

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.2 + rnd.random() * 0.4)
        node.kill()
        stop.set()
        for t in threads:
            t.join()
        node.start()
        c = node.client()
        done = set(x.decode() for x in c.smembers("done"))
        for sid in sent:
            present = sum(c.exists(f"{sid}:{i}") for i in range(1, per + 1))
            assert present in (0, per), f"{sid}: {present} of {per} writes after SIGKILL"
            assert (present == per) == (sid in done)
        for sid in acked:
            assert sid in done, f"{sid} was acknowledged but is gone"


# --- busy scripts ----------------------------------------------------------------

def _run_async(port, *args):
    out = {}

    def go():
        try:
            out["reply"] = RespConn("127.0.0.1", port, timeout=30).call(*args)
        except Exception as e:  # noqa: BLE001 - reported by the test
            out["exc"] = e

    t = threading.Thread(target=go)
    t.start()
    return t, out


def test_busy_script_kill_and_node_stays_up(cluster):
    node = cluster.node("node")
    c = node.client()
    c.config_set("busy-reply-threshold", 100)
    c.set("k", "v")
    t, out = _run_async(node.port, b"EVAL", b"while true do end", b"0")
    other = RespConn("127.0.0.1", node.port)

    def busy():
        r = other.call(b"GET", b"k")
        return isinstance(r, difftest.Error) and r.startswith(b"BUSY")
    wait_until(busy, 10, what="-BUSY while the script loops")
    assert other.call(b"PING").startswith(b"BUSY Redis is busy running a script. You can only call SCRIPT KILL")
    assert other.call(b"FUNCTION", b"KILL").startswith(b"BUSY")
    assert other.call(b"SCRIPT", b"KILL") == "OK"
    t.join(10)
    assert out["reply"].startswith(b"ERR Script killed by user with SCRIPT KILL... script: ")
    assert c.get("k") == b"v"
    assert other.call(b"SCRIPT", b"KILL") == b"NOTBUSY No scripts in execution right now."

    # After a write: UNKILLABLE; SHUTDOWN NOSAVE ends the node without the write.
    t, out = _run_async(node.port, b"EVAL", b"redis.call('set', 'w', '1') while true do end", b"0")
    wait_until(busy, 10, what="-BUSY")
    assert other.call(b"SCRIPT", b"KILL").startswith(b"UNKILLABLE")
    assert other.call(b"SHUTDOWN").startswith(b"BUSY")
    other.send([b"SHUTDOWN", b"NOSAVE"])
    node.proc.wait(timeout=15)
    t.join(10)
    node.start()
    assert node.client().get("w") is None
    assert node.client().get("k") == b"v"


LEASE_SCRIPT = """
redis.call('set', 'before', '1')
local t0 = redis.call('time')
local start = t0[1] * 1000 + math.floor(t0[2] / 1000)
while true do
  local t = redis.call('time')
  if t[1] * 1000 + math.floor(t[2] / 1000) - start > tonumber(ARGV[1]) then break end
end
return redis.pcall('set', 'after', '1')
"""


def test_lease_lost_during_busy_script(cluster):
    """A master whose fencing lease runs out while a script loops refuses
    the script's later writes (-READONLY raised in the script, as Redis
    raises -NOREPLICAS there); the writes made before stay, as Redis keeps
    a script's writes before an error."""
    master = cluster.node("master", args=["--fence_lease_ms", "500"])
    replica = start_replica(cluster, master)
    c = master.client(socket_timeout=30)
    wait_synced(master, replica)
    assert c.eval(LEASE_SCRIPT, 0, 50) == b"OK"     # the lease is held: both writes
    assert c.get("after") == b"1"
    c.delete("before", "after")
    replica.proc.send_signal(signal.SIGSTOP)         # no more acks
    try:
        with pytest.raises(redis.exceptions.ReadOnlyError) as e:
            c.eval(LEASE_SCRIPT, 0, 1500)
        assert str(e.value).startswith("Writes refused: this master lost its lease")
        assert c.get("before") == b"1" and c.get("after") is None
    finally:
        replica.proc.send_signal(signal.SIGCONT)
    wait_until(lambda: c.set("again", "1"), 10, what="the lease is back once the replica acks")


def test_busy_function_kill(cluster):
    node = cluster.node("node")
    c = node.client()
    c.config_set("busy-reply-threshold", 100)
    c.function_load("#!lua name=loop\nredis.register_function('spin', function() while true do end end)")
    t, out = _run_async(node.port, b"FCALL", b"spin", b"0")
    other = RespConn("127.0.0.1", node.port)
    wait_until(lambda: other.call(b"PING").startswith(b"BUSY"), 10, what="-BUSY")
    assert other.call(b"PING") == b"BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
    assert other.call(b"SCRIPT", b"KILL").startswith(b"BUSY")
    assert other.call(b"FUNCTION", b"KILL") == "OK"
    t.join(10)
    assert out["reply"].startswith(b"ERR Script killed by user with FUNCTION KILL... script: spin")
    assert c.ping()


# --- caps -----------------------------------------------------------------------

def test_heap_cap_and_recursion(cluster):
    node = cluster.node("node")
    c = node.client()
    with pytest.raises(redis.ResponseError, match="not enough memory"):
        c.eval("local t = {} for i = 1, 100000 do t[i] = string.rep('x', 1048576) .. i end return #t", 0)
    with pytest.raises(redis.ResponseError, match="stack overflow"):
        c.eval("local function f(n) return f(n + 1) + 1 end return f(1)", 0)
    with pytest.raises(redis.ResponseError):
        c.eval("error({})", 0)
    assert c.eval("local t = {} t[1] = t return 1", 0) == 1
    assert c.eval("return 'alive'", 0) == b"alive"


def _raw_reply(port, args):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(RespConn.encode(args))
    s.settimeout(0.5)
    data = b""
    try:
        while not data.endswith(b"limit\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    s.close()
    return data


def test_self_referencing_table_reply_as_redis(pair):
    # ~8000 nested arrays, then the error, exactly as Redis (too deep for
    # the test client's recursive parser: compared raw).
    node, ref = pair
    args = [b"EVAL", b"local t = {} t[1] = t return t", b"0"]
    a, b = _raw_reply(node.port, args), _raw_reply(ref.port, args)
    assert a.endswith(b"-ERR reached lua stack limit\r\n")
    assert a == b


def test_function_dump_restore_both_ways(pair):
    node, ref = pair
    s, r = node.client(), ref.client()
    for c in (s, r):
        c.function_flush()
    code = ("#!lua name=dlib\nredis.register_function('df', function(k, a) return 'from the dump: ' .. "
            "string.rep('long enough to be compressed by redis ', 3) end)")
    r.function_load(code)
    payload = r.function_dump()
    assert payload[0] == 0xF5
    assert s.function_restore(payload) is True          # LZF-compressed, from Redis
    assert s.fcall("df", 0) == r.fcall("df", 0)
    with pytest.raises(redis.ResponseError, match="Library dlib already exists"):
        s.function_restore(payload, "APPEND")
    assert s.function_restore(payload, "REPLACE") is True
    with pytest.raises(redis.ResponseError, match="DUMP payload version or checksum are wrong"):
        s.function_restore(payload[:-1] + bytes([payload[-1] ^ 1]))
    with pytest.raises(redis.ResponseError, match="Wrong restore policy"):
        s.execute_command("FUNCTION", "RESTORE", payload, "BOGUS")
    ours = s.function_dump()
    r.function_flush()
    assert r.function_restore(ours) is True             # ours, into Redis
    assert r.fcall("df", 0) == s.fcall("df", 0)
    s.function_flush()
    assert s.function_restore(ours, "FLUSH") is True
    assert s.function_dump() == ours


def test_expiry_judged_at_script_start(pair):
    # A key expiring while the script runs stays visible to it, as in Redis
    # (the script's time is taken when it starts; TIME is the live clock).
    script = ("local t0 = redis.call('time') local v1 = redis.call('get', KEYS[1]) "
              "while true do local t = redis.call('time') "
              "if (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 300000 then break end end "
              "return {v1, redis.call('get', KEYS[1]), redis.call('exists', KEYS[1])}")
    for proc in pair:
        c = proc.client()
        c.set("ek", "v", px=100)
        assert c.eval(script, 1, "ek") == [b"v", b"v", 1]
        assert c.get("ek") is None


LUA_INFO = ("used_memory_lua", "used_memory_vm_eval", "used_memory_lua_human", "used_memory_scripts_eval",
            "number_of_cached_scripts", "number_of_functions", "number_of_libraries",
            "used_memory_vm_functions", "used_memory_vm_total", "used_memory_vm_total_human",
            "used_memory_functions", "used_memory_scripts", "used_memory_scripts_human")


def test_info_memory_lua_lines_as_redis(pair):
    """INFO memory's Lua lines: Redis 7.0's names in its order, the counts
    equal to redis-server's, the sizes growing with what is loaded."""
    got = []
    for proc in pair:
        c = proc.client()
        c.script_flush()
        c.function_flush()
        empty = c.info("memory")
        c.script_load("return 1")
        c.script_load("return 2")
        c.function_load("#!lua name=l1\nredis.register_function('f1', function() return 1 end)\n"
                        "redis.register_function('f2', function() return 2 end)")
        m = c.info("memory")
        names = [k for k in m if k in LUA_INFO]   # (redis-py keeps INFO's order)
        got.append((names, [m[k] for k in ("number_of_cached_scripts", "number_of_functions",
                                            "number_of_libraries")]))
        assert m["used_memory_scripts_eval"] > empty["used_memory_scripts_eval"]
        assert m["used_memory_functions"] > empty["used_memory_functions"]
        assert m["used_memory_vm_total"] == m["used_memory_vm_eval"] + m["used_memory_vm_functions"]
        assert m["used_memory_lua"] == m["used_memory_vm_eval"] > 0
        c.script_flush()
        c.function_flush()
        assert c.info("memory")["number_of_cached_scripts"] == 0
    assert got[0] == got[1] and got[0] == (list(LUA_INFO), [2, 2, 1])
