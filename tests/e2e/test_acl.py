"""ACL users on strata-node: differential runs against redis-server 7.0
(RESP2 and RESP3: seeded sequences from diff_acl.py), and end-to-end runs
with redis-cli --user/--pass and redis-py username=.

The seed of each run is printed; STRATA_SEED=N replays it."""
import os
import random
import subprocess

import pytest
import redis

import diff_acl
from difftest import Map, RespConn

SEED = int(os.environ.get("STRATA_SEED", "0") or 0) or random.randrange(1, 1 << 30)


@pytest.mark.parametrize("proto", [2, 3])
def test_acl_diff(cluster, tmp_path, proto):
    # Both servers read and write an ACL file of their own (ACL SAVE and
    # ACL LOAD are steps of the sequence); each file starts the same.
    files = []
    for name in ("node", "redis"):
        f = tmp_path / (name + ".acl")
        f.write_text(diff_acl.START_FILE)
        files.append(f)
    node = cluster.node(args=["--aclfile", str(files[0])])
    red = cluster.redis(args=["--aclfile", str(files[1])])
    print(f"STRATA_SEED={SEED}")
    diff_acl.run(node.port, red.port, files, SEED + proto, proto, 250)


def test_noperm_texts_multi_and_scripts(pair):
    """-NOPERM texts at the top level, at EXEC time after a rule change, in
    redis.call, and the ACL LOG entries they leave, on both servers."""
    results = []
    for proc in pair:
        adm = redis.Redis(port=proc.port)
        adm.execute_command("acl", "setuser", "t1", "on", ">p", "+@all", "-hget", "~k*", "&c1")
        c = redis.Redis(port=proc.port, username="t1", password="p")
        out = []
        for args in (("hget", "k1", "f"), ("get", "x"), ("publish", "c2", "m"), ("get", "k1")):
            try:
                out.append(c.execute_command(*args))
            except redis.ResponseError as e:
                out.append(("err", str(e)))
        for script in ("return redis.call('hget','k1','f')", "return redis.call('get','x')"):
            try:
                out.append(c.eval(script, 0))
            except redis.ResponseError as e:
                out.append(("err", str(e).split(" script:")[0]))
        conn = c.connection_pool.get_connection("x")
        for args in (("multi",), ("set", "k1", "v"), ("get", "k2")):
            conn.send_command(*args)
            out.append(conn.read_response())
        adm.execute_command("acl", "setuser", "t1", "-set")
        conn.send_command("exec")
        out.append([str(x) for x in conn.read_response()])
        c.connection_pool.release(conn)
        log = adm.execute_command("acl", "log")
        out.append([[e[k] for k in (b"count", b"reason", b"context", b"object", b"username")]
                    if isinstance(e, dict) else
                    [dict(zip(e[0::2], e[1::2]))[k] for k in (b"count", b"reason", b"context", b"object",
                                                             b"username")] for e in log])
        results.append(out)
    assert results[0] == results[1]


def test_auth_hello_redis_cli_and_deluser(cluster):
    node = cluster.node()
    adm = redis.Redis(port=node.port, decode_responses=True)
    adm.execute_command("acl", "setuser", "app", "on", ">secret", "~app:*", "+@read", "+@write", "+@connection")
    r = redis.Redis(port=node.port, username="app", password="secret", decode_responses=True)
    assert r.set("app:1", "v")
    assert r.get("app:1") == "v"
    with pytest.raises(redis.exceptions.NoPermissionError):
        r.get("other")
    with pytest.raises(redis.exceptions.NoPermissionError, match="'acl|whoami'"):
        r.execute_command("acl", "whoami")
    assert "user=app" in adm.execute_command("client", "list")
    with pytest.raises(redis.exceptions.ResponseError, match="WRONGPASS"):
        redis.Redis(port=node.port, username="app", password="bad").ping()
    c3 = RespConn("127.0.0.1", node.port, proto=2)
    hello = c3.call(b"hello", b"3", b"auth", b"app", b"secret")
    assert isinstance(hello, Map) and c3.call(b"get", b"app:1") == b"v"
    assert c3.call(b"hello", b"3", b"auth", b"app", b"bad").startswith(b"WRONGPASS")
    c3.close()
    out = subprocess.run(["redis-cli", "-p", str(node.port), "--user", "app", "--pass", "secret", "--no-auth-warning",
                          "get", "app:1"], capture_output=True, text=True, timeout=20)
    assert out.stdout.strip() == "v"
    out = subprocess.run(["redis-cli", "-p", str(node.port), "--user", "app", "--pass", "secret", "--no-auth-warning",
                          "replicaof", "127.0.0.1", "1"], capture_output=True, text=True, timeout=20)
    assert "NOPERM this user has no permissions to run the 'replicaof' command" in out.stdout
    # requirepass is the default user's password
    adm.config_set("requirepass", "dpw")
    assert "nopass" not in adm.execute_command("acl", "list")[0]
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(port=node.port).ping()
    assert redis.Redis(port=node.port, password="dpw").ping()
    adm2 = redis.Redis(port=node.port, password="dpw", decode_responses=True)
    # DELUSER closes the user's connections
    conn = r.connection_pool.get_connection("x")
    conn.send_command("get", "app:1")
    assert conn.read_response() == "v"
    assert adm2.execute_command("acl", "deluser", "app") == 1
    with pytest.raises(redis.exceptions.ConnectionError):
        conn.send_command("get", "app:1")
        conn.read_response()


def test_aclfile_load_save(cluster, tmp_path):
    path = tmp_path / "users.acl"
    path.write_text("user default on nopass ~* &* +@all\nuser ops on >opspw ~* &* +@all -@dangerous\n")
    node = cluster.node(args=["--aclfile", str(path)])
    adm = redis.Redis(port=node.port, decode_responses=True)
    assert sorted(adm.execute_command("acl", "users")) == ["default", "ops"]
    assert redis.Redis(port=node.port, username="ops", password="opspw").ping()
    adm.execute_command("acl", "setuser", "new", "on", ">n", "+get", "~*")
    assert adm.execute_command("acl", "save") == "OK"
    assert "user new on #" in path.read_text()
    path.write_text("user default on nopass ~* &* +@all\n")
    assert adm.execute_command("acl", "load") == "OK"
    assert adm.execute_command("acl", "users") == ["default"]
    path.write_text("user default on nopass ~* &* +@all\nuser bad +nosuch\n")
    with pytest.raises(redis.ResponseError):
        adm.execute_command("acl", "load")
    assert adm.execute_command("acl", "users") == ["default"]
