"""ACL users at strata-proxy, the front door: users from the proxy's
`aclfile`, AUTH / HELLO AUTH, the -NOPERM and -WRONGPASS texts compared
with a redis-server 7.0 that reads the same ACL file (at the top level,
inside MULTI, in pub/sub mode), the ACL command's differential
(diff_acl.py, as for strata-node), ACL LOG at the proxy, rule changes seen
by every worker thread, DELUSER, ACL SAVE/LOAD, the topology's password as
the default user's, and real clients (redis-py username=, redis-cli
--user/--pass).

The seed of the differential is printed; STRATA_SEED=N replays it."""
import os
import random
import subprocess

import pytest
import redis

import diff_acl
from difftest import Error, RespConn
from harness import wait_until
from proxy_util import ProxySetup

SEED = int(os.environ.get("STRATA_SEED", "0") or 0) or random.randrange(1, 1 << 30)

ACLFILE = """user default on nopass ~* &* +@all
user app on >secret ~app:* %R~ro:* %W~wo:* &chan:* -@all +@read +@write +@connection +@transaction +publish -hgetall +acl|whoami
user ro on >ropw ~* -@all +get +mget +@connection +acl|whoami
user off off >x +@all ~*
"""

KEYS = ["app:1", "app:{a}2", "ro:1", "wo:1", "other", "{app:1}x"]
CMDS = [["get", "K"], ["set", "K", "v"], ["hset", "K", "f", "v"], ["hgetall", "K"], ["hget", "K", "f"],
        ["incr", "K"], ["del", "K"], ["mget", "K", "K"], ["lpush", "K", "a"], ["lrange", "K", "0", "-1"],
        ["publish", "chan:1", "m"], ["publish", "news", "m"], ["config", "get", "maxmemory"], ["flushall"],
        ["acl", "whoami"], ["acl", "list"], ["replicaof", "no", "one"], ["keys", "*"], ["ping"],
        ["copy", "K", "K"], ["getdel", "K"], ["append", "K", "x"]]


def _wrongpass(**kw):
    with pytest.raises(redis.exceptions.ResponseError) as e:
        redis.Redis(socket_timeout=10, **kw).ping()
    assert str(e.value) == "WRONGPASS invalid username-password pair or user is disabled."


@pytest.fixture
def front(cluster, tmp_path):
    """(proxy setup with two groups and an ACL file, a redis-server with
    its own copy of the file)."""
    pf, rf = tmp_path / "proxy.acl", tmp_path / "redis.acl"
    pf.write_text(ACLFILE)
    rf.write_text(ACLFILE)
    ps = ProxySetup(cluster, 2, proxy_opts={"aclfile": str(pf), "threads": 2})
    ref = cluster.redis(name="ref", args=["--aclfile", str(rf)])
    return ps, ref, pf


def _line(r):
    cmd = [c for c in r.choice(CMDS)]
    key = r.choice(KEYS)
    same = r.random() < 0.5
    out = []
    for a in cmd:
        if a == "K":
            # two keys of one line share a slot through a hash tag
            out.append(key if same or not out or "K" not in cmd else "{%s}%d" % (key, len(out)))
        else:
            out.append(a)
    return out


def _run_as(port, user, pw, lines, proto):
    c = RespConn("127.0.0.1", port, proto=2)
    try:
        if proto == 3:
            h = c.call(b"hello", b"3", b"auth", user.encode(), pw.encode())
            first = bytes(h) if isinstance(h, Error) else "hello-ok"
        else:
            first = c.call(b"auth", user.encode(), pw.encode())
        return [first] + [c.call(*[a.encode() for a in ln]) for ln in lines]
    finally:
        c.close()


@pytest.mark.parametrize("proto", [2, 3])
def test_proxy_acl_diff(front, proto):
    ps, ref, _ = front
    seed = SEED + proto
    print(f"proxy ACL diff seed {seed} (STRATA_SEED={SEED})")
    r = random.Random(seed)
    users = [("app", "secret"), ("ro", "ropw"), ("app", "bad"), ("off", "x"), ("nouser", "p"), ("default", "")]
    for i in range(40):
        user, pw = r.choice(users)
        lines = [_line(r) for _ in range(6)]
        a = _run_as(ps.proxy.port, user, pw, lines, proto)
        b = _run_as(ref.port, user, pw, lines, proto)
        # strata-proxy answers some commands itself or refuses them
        # (ACL LIST's user lines match; KEYS, FLUSHALL, REPLICAOF are not
        # run through the proxy, so only refusals are compared there)
        for ln, x, y in zip([["auth"]] + lines, a, b):
            if ln[0] in ("keys", "flushall", "replicaof", "config") and not (
                    isinstance(y, Error) and y.startswith(b"NOPERM")):
                continue
            bl = [a.encode() for a in ln]
            x, y = diff_acl.normalise(bl, x), diff_acl.normalise(bl, y)
            assert x == y, f"seed {seed} run {i} as {user}: {ln!r}\n proxy: {x!r}\n redis: {y!r}"
        # the keys each run wrote are left on both sides for the next runs
    la = RespConn("127.0.0.1", ps.proxy.port, proto=proto).call(b"acl", b"log", b"100")
    lb = RespConn("127.0.0.1", ref.port, proto=proto).call(b"acl", b"log", b"100")

    def summary(log):
        out = []
        for e in log:
            d = dict(zip(e[0::2], e[1::2]))
            out.append([d[k] for k in (b"count", b"reason", b"context", b"object", b"username")])
        return out
    assert summary(la) == summary(lb)


@pytest.mark.parametrize("proto", [2, 3])
def test_proxy_acl_command_diff(cluster, tmp_path, proto):
    """The ACL command served by the proxy against redis-server's: the
    node's differential (diff_acl.run), AUTH and commands as users
    included, each side with an ACL file of its own."""
    files = []
    for name in ("proxy", "redis"):
        f = tmp_path / (name + ".acl")
        f.write_text(diff_acl.START_FILE)
        files.append(f)
    ps = ProxySetup(cluster, 2, proxy_opts={"aclfile": str(files[0]), "threads": 2})
    ref = cluster.redis(name="ref", args=["--aclfile", str(files[1])])
    print(f"STRATA_SEED={SEED}")
    diff_acl.run(ps.proxy.port, ref.port, files, SEED + 10 + proto, proto, 150, proxy=True)


def _log_summary(log):
    return [[e[k] for k in (b"count", b"reason", b"context", b"object", b"username")] if isinstance(e, dict) else
            [dict(zip(e[0::2], e[1::2]))[k] for k in (b"count", b"reason", b"context", b"object", b"username")]
            for e in log]


def test_proxy_noperm_multi_pubsub_diff(cluster):
    """-NOPERM texts at the top level, inside MULTI (the transaction is
    then discarded at EXEC), in RESP2 pub/sub mode, and the ACL LOG
    entries they leave: the proxy against redis-server."""
    ps = ProxySetup(cluster, 2)
    ref = cluster.redis(name="ref")
    results = []
    for port in (ps.proxy.port, ref.port):
        adm = redis.Redis(port=port, socket_timeout=10)
        adm.execute_command("acl", "setuser", "t1", "on", ">p", "+@all", "-hget", "~k*", "&c1")
        c = redis.Redis(port=port, username="t1", password="p", socket_timeout=10)
        out = []
        for args in (("hget", "k1", "f"), ("get", "x"), ("publish", "c2", "m"), ("get", "k1"),
                     ("mget", "k1", "x"), ("acl", "dryrun", "t1", "get", "x"), ("acl", "whoami")):
            try:
                out.append(c.execute_command(*args))
            except redis.ResponseError as e:
                out.append(("err", str(e)))
        conn = c.connection_pool.get_connection("x")
        for args in (("multi",), ("set", "k1", "v"), ("get", "x"), ("hget", "k1", "f"), ("exec",)):
            conn.send_command(*args)
            try:
                out.append(conn.read_response())
            except redis.ResponseError as e:
                out.append(("err", str(e)))
        # a rule change between MULTI and EXEC: the command no longer
        # allowed fails inside EXEC's reply, the others run
        for args in (("multi",), ("set", "k{t}1", "v2"), ("get", "k{t}2"), ("incr", "k{t}n")):
            conn.send_command(*args)
            out.append(conn.read_response())
        adm.execute_command("acl", "setuser", "t1", "-set")
        conn.send_command("exec")
        out.append([str(x) for x in conn.read_response()])
        adm.execute_command("acl", "setuser", "t1", "+set")
        c.connection_pool.release(conn)
        out.append(c.get("k1"))
        out.append(c.get("k{t}1"))
        out.append(c.get("k{t}n"))
        # RESP2 pub/sub mode: a refused SUBSCRIBE among allowed ones
        s = RespConn("127.0.0.1", port, proto=2)
        out.append(s.call(b"auth", b"t1", b"p"))
        out.append(s.call(b"subscribe", b"c1"))
        out.append(s.call(b"subscribe", b"c2"))
        out.append(s.call(b"psubscribe", b"c*"))
        out.append(s.call(b"ping"))
        s.close()
        # RESET is checked too (at the top level and in pub/sub mode)
        adm.execute_command("acl", "setuser", "t2", "on", ">p", "+@all", "-reset", "~*", "&*")
        s = RespConn("127.0.0.1", port, proto=2)
        out.append(s.call(b"auth", b"t2", b"p"))
        out.append(s.call(b"reset"))
        out.append(s.call(b"subscribe", b"c1"))
        out.append(s.call(b"reset"))
        s.close()
        # EXEC itself refused: the transaction ends there (EXECABORT), so
        # what follows runs rather than being queued
        adm.execute_command("acl", "setuser", "t3", "on", ">p", "+@all", "-exec", "~*", "&*")
        s = RespConn("127.0.0.1", port, proto=2)
        for args in ((b"auth", b"t3", b"p"), (b"multi",), (b"set", b"k{e}", b"1"), (b"exec",),
                     (b"get", b"k{e}"), (b"discard",)):
            out.append(s.call(*args))
        s.close()
        out.append(_log_summary(adm.execute_command("acl", "log")))
        results.append(out)
    assert results[0] == results[1]
    assert [x for x in results[0] if isinstance(x, tuple)][:2] == [
        ("err", "this user has no permissions to run the 'hget' command"),
        ("err", "this user has no permissions to access one of the keys used as arguments")]


def test_proxy_acl_clients_and_threads(front):
    ps, _, pf = front
    port = ps.proxy.port
    app = redis.Redis(port=port, username="app", password="secret", decode_responses=True, socket_timeout=10)
    assert app.set("app:1", "v") and app.get("app:1") == "v"
    assert app.execute_command("acl", "whoami") == "app"
    with pytest.raises(redis.exceptions.NoPermissionError,
                       match="^No permissions to access a key$|this user has no permissions to access one of the keys"):
        app.get("other")
    with pytest.raises(redis.exceptions.NoPermissionError, match="'hgetall' command"):
        app.hgetall("app:1")
    _wrongpass(port=port, username="app", password="nope")
    # MULTI: a refused command fails the transaction at EXEC
    p = app.pipeline(transaction=True)
    p.set("app:1", "w")
    p.get("other")
    with pytest.raises(redis.exceptions.ResponseError):
        p.execute()
    assert app.get("app:1") == "v"
    # CLIENT LIST at the proxy names the user
    assert "user=app" in app.execute_command("client", "list")
    # a rule change made through one connection binds every connection
    # (the proxy has two worker threads: open several)
    adm = redis.Redis(port=port, decode_responses=True, socket_timeout=10)
    conns = [redis.Redis(port=port, username="app", password="secret", decode_responses=True,
                         single_connection_client=True, socket_timeout=10) for _ in range(4)]
    for c in conns:
        assert c.get("app:1") == "v"
    assert adm.execute_command("acl", "setuser", "app", "-get") == "OK"
    for c in conns:
        with pytest.raises(redis.exceptions.NoPermissionError, match="'get' command"):
            c.get("app:1")
    log = adm.execute_command("acl", "log", "1")
    entry = log[0] if isinstance(log[0], dict) else dict(zip(log[0][0::2], log[0][1::2]))
    assert entry["reason"] == "command" and entry["object"] == "get" and entry["username"] == "app"
    assert "user=app" in entry["client-info"]
    # DELUSER: the user's connections are closed (at their next command)
    assert adm.execute_command("acl", "deluser", "app") == 1
    for c in conns:
        with pytest.raises(redis.exceptions.ConnectionError):
            c.execute_command("ping")
    # ACL LOAD brings it back from the file; ACL SAVE writes the new user
    assert adm.execute_command("acl", "load") == "OK"
    assert redis.Redis(port=port, username="app", password="secret").get("app:1") == b"v"
    assert adm.execute_command("acl", "setuser", "late", "on", ">l", "+get", "~*") == "OK"
    assert adm.execute_command("acl", "save") == "OK"
    assert "user late on #" in pf.read_text()
    # redis-cli --user/--pass through the proxy
    base = ["redis-cli", "-p", str(port), "--user", "ro", "--pass", "ropw", "--no-auth-warning"]
    out = subprocess.run(base + ["get", "app:1"], capture_output=True, text=True, timeout=20)
    assert out.stdout.strip() == "v"
    out = subprocess.run(base + ["set", "app:1", "x"], capture_output=True, text=True, timeout=20)
    assert "NOPERM this user has no permissions to run the 'set' command" in out.stdout
    out = subprocess.run(["redis-cli", "-p", str(port), "--user", "ro", "--pass", "bad", "--no-auth-warning",
                          "get", "app:1"], capture_output=True, text=True, timeout=20)
    assert "WRONGPASS invalid username-password pair or user is disabled." in out.stdout + out.stderr


def test_proxy_topology_password_is_default_users(cluster):
    ps = ProxySetup(cluster, 1, password="topw")
    port = ps.proxy.port
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(port=port).ping()
    assert redis.Redis(port=port, password="topw").ping()
    assert redis.Redis(port=port, username="default", password="topw").ping()
    _wrongpass(port=port, username="default", password="bad")
    adm = redis.Redis(port=port, password="topw", decode_responses=True)
    assert adm.execute_command("acl", "users") == ["default"]
    with pytest.raises(redis.ResponseError, match="This Redis instance is not configured to use an ACL file"):
        adm.execute_command("acl", "save")
    # a new password in the topology (SIGHUP) is the default user's from
    # then on; a client already in stays in
    for b in ps.backends:
        b.client(password="topw").config_set("requirepass", "newpw")
    ps.password = "newpw"
    ps.reload(ps.ranges)
    wait_until(lambda: redis.Redis(port=port, password="newpw", socket_timeout=5).ping(), 10,
               what="the new password")
    _wrongpass(port=port, password="topw")
    assert adm.execute_command("acl", "whoami") == "default"
