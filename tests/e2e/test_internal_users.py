"""Internal links as ACL users of their own (topology `users:`, the
node's masteruser/masterauth).

Two groups of strata-node (a master and a replica each) whose ACL file
turns `default` off and has an application user, an admin, and one user
per internal link with the least rights it needs (the lines the README
recommends); three strata-sentinels and strata-proxy with
`users: {proxy: ..., sentinel: ...}` and a client `password:`.  Writes
through the proxy reach the replicas, a SIGKILLed master is replaced by
its replica and the proxy follows, the old master comes back as a
replica (authenticating as the replication user), and no internal user
is ever refused anything (ACL LOG).  The application user cannot take
part in replication: REPLICAOF, SLAVEOF, PSYNC, REPLCONF and CONFIG SET
get -NOPERM, logged in ACL LOG."""
import os
import signal
import subprocess
import time

import pytest
import redis

from harness import ROOT, Proc, binary, free_port, wait_until
from resp3 import Resp3Conn
from proxy_util import key_slot, keys_for_group, topology_text, write_file
from test_sentinel_common import addr, master_addr, wait_master

RANGES = [(0, 8191), (8192, 16383)]
CLIENT_PW = "client-pw"
INTERNAL = ("strata-proxy", "strata-sentinel", "strata-repl", "strata-cli")

# The README's recommended lines (section "Users and passwords (ACL)").
ACL = """\
user default off
user admin on >admin-pw ~* &* +@all
user app on >app-pw ~* &* +@all -@admin -@dangerous
user strata-proxy on >proxy-pw ~* &* +@all -@admin +role +strata|slots
user strata-sentinel on >sentinel-pw resetchannels -@all +ping +info +role +replicaof +replconf +strata|slots +strata|setslots
user strata-repl on >repl-pw resetchannels -@all +psync +replconf +strata|import
user strata-cli on >cli-pw resetchannels -@all +strata +role
"""


def admin(p, **kw):
    return p.client(username="admin", password="admin-pw", **kw)


def start_group(cluster, name, aclfile):
    args = ["--aclfile", aclfile, "--masteruser", "strata-repl", "--masterauth", "repl-pw"]
    master = cluster.node(f"{name}-n0", args=args)
    replica = cluster.node(f"{name}-n1", args=args + ["--replicaof", f"127.0.0.1:{master.port}"])
    wait_until(lambda: admin(replica).info("replication")["master_link_status"] == "up", 20,
               what=f"{name} replica in sync as strata-repl")
    return [master, replica]


def with_password(p, password):
    """Clients of p (a sentinel) authenticate as the default user."""
    p.client = lambda **kw: Proc.client(p, **{"password": password, **kw})
    return p


def write_topology(cluster, g1, g2, ports, s1, s2, name="topology.yaml"):
    text = topology_text(
        [("g1", s1, [addr(p) for p in g1]), ("g2", s2, [addr(p) for p in g2])],
        password=CLIENT_PW,
        proxy={"timeout_ms": 2000, "switch_wait_ms": 8000, "sentinel_poll_ms": 200},
        sentinel={"addrs": [f"127.0.0.1:{p}" for p in ports], "quorum": 2,
                  "down_after_ms": 1000, "failover_timeout_ms": 3000})
    text += ("users:\n"
             "  proxy: {user: strata-proxy, password: proxy-pw}\n"
             "  sentinel: {user: strata-sentinel, password: sentinel-pw}\n"
             "  cli: {user: strata-cli, password: cli-pw}\n")
    return write_file(cluster, name, text)


def internal_refusals(nodes):
    """ACL LOG entries of the internal users, on every live node."""
    out = []
    for p in nodes:
        if p.alive():
            out += [(p.name, e["username"], e["object"], e["reason"])
                    for e in admin(p).acl_log() if e["username"] in INTERNAL]
    return out


def test_internal_users(cluster):
    aclfile = write_file(cluster, "users.acl", ACL)
    g1 = start_group(cluster, "g1", aclfile)
    g2 = start_group(cluster, "g2", aclfile)
    nodes = g1 + g2
    ports = [free_port() for _ in range(3)]
    topo = write_topology(cluster, g1, g2, ports, "0-8191", "8192-16383")

    sents = []
    for i, port in enumerate(ports):
        s = with_password(cluster.sentinel(topo, name=f"sentinel{i}", port=port, start=False), CLIENT_PW)
        sents.append(s.start())
    # Sentinel to sentinel (as strata-sentinel): each sees both peers up;
    # sentinel to node: each sees every group's replica.
    for s in sents:
        for g in ("g1", "g2"):
            wait_until(lambda s=s, g=g: len(s.client().sentinel_slaves(g)) == 1 and
                       len(s.client().sentinel_sentinels(g)) == 2 and
                       all("s_down" not in x["flags"] and "disconnected" not in x["flags"]
                           for x in s.client().sentinel_sentinels(g)), 15,
                       what=f"{s.name} sees {g}'s replica and its peers")
    # A sentinel takes its own user, and refuses the application's.
    c = redis.Redis(port=ports[0], username="strata-sentinel", password="sentinel-pw", socket_timeout=5)
    assert c.ping()
    with pytest.raises(redis.ResponseError, match="WRONGPASS"):
        redis.Redis(port=ports[0], username="app", password="app-pw", socket_timeout=5).ping()

    proxy = cluster.proxy(topo)
    r = proxy.client(password=CLIENT_PW, socket_timeout=10)
    k1 = keys_for_group(RANGES, 0, 100, "a")
    k2 = keys_for_group(RANGES, 1, 100, "b")
    for k in k1 + k2:
        assert r.set(k, k)
    assert r.mget(k1[:3] + k2[:3]) == [k.encode() for k in k1[:3] + k2[:3]]
    # A RESP3 client gets RESP3 links (HELLO 3 AUTH strata-proxy ...).
    r3 = Resp3Conn(proxy.port)
    assert r3.call("HELLO", "3", "AUTH", "default", CLIENT_PW).startswith(b"%")
    assert r3.call("SET", "resp3-" + k1[0], "x") == b"+OK\r\n"
    assert r3.call("GET", "resp3-" + k1[0]) == b"$1\r\nx\r\n"
    # ... and the writes reach the replicas.
    wait_until(lambda: admin(g1[1]).get(k1[-1]) == k1[-1].encode() and
               admin(g2[1]).get(k2[-1]) == k2[-1].encode(), 10, what="replicas have the writes")

    # The application user on a node: its data, but no replication and
    # no configuration.
    app = g1[0].client(username="app", password="app-pw")
    assert app.set(k1[0], "direct") and app.get(k1[0]) == b"direct"
    for cmd in (("REPLICAOF", "127.0.0.1", str(g2[0].port)), ("SLAVEOF", "NO", "ONE"),
                ("PSYNC", "?", "-1"), ("REPLCONF", "listening-port", "1"),
                ("CONFIG", "SET", "masterauth", "x"), ("CONFIG", "GET", "masterauth")):
        with pytest.raises(redis.exceptions.NoPermissionError, match="no permissions"):
            app.execute_command(*cmd)
    # Strata has no SYNC (PSYNC is its handshake): refused all the same.
    with pytest.raises(redis.ResponseError):
        app.execute_command("SYNC")
    refused = {e["object"] for e in admin(g1[0]).acl_log() if e["username"] == "app"}
    assert {"replicaof", "slaveof", "psync", "replconf", "config|set"} <= refused
    assert admin(g1[0]).info("replication")["role"] == "master"
    # The replication user may stream (its purpose) but not change roles or data.
    repl = g1[0].client(username="strata-repl", password="repl-pw")
    for cmd in (("REPLICAOF", "NO", "ONE"), ("SET", "x", "1"), ("GET", "x")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            repl.execute_command(*cmd)
    admin(g1[0]).acl_log_reset()
    # masteruser / masterauth through CONFIG, as Redis.
    a = admin(g2[1])
    assert a.config_get("masteruser") == {"masteruser": "strata-repl"}
    assert a.config_get("masterauth") == {"masterauth": "repl-pw"}
    assert a.config_set("masterauth", "repl-pw")

    # Failover: SIGKILL g1's master; the sentinels promote the replica
    # (REPLICAOF NO ONE as strata-sentinel) and the proxy follows.
    g1[0].kill(signal.SIGKILL)
    t_kill = time.monotonic()
    wait_master(sents, "g1", addr(g1[1]), timeout=20)
    assert admin(g1[1]).info("replication")["role"] == "master"
    wait_until(lambda: r.set("after-" + k1[1], "new"), 20, interval=0.05,
               what="a write to g1 through the proxy after the failover")
    print(f"\ng1 writable through the proxy {1000 * (time.monotonic() - t_kill):.0f} ms after SIGKILL")
    assert admin(g1[1]).get("after-" + k1[1]) == b"new"
    assert r.get(k1[-1]) == k1[-1].encode()
    # The old master returns; the sentinels make it a replica of the new
    # one and it syncs as strata-repl.
    g1[0].start()
    wait_until(lambda: admin(g1[0]).info("replication").get("master_port") == g1[1].port and
               admin(g1[0]).info("replication").get("master_link_status") == "up", 20,
               what="the old master follows the new one")
    wait_until(lambda: admin(g1[0]).get("after-" + k1[1]) == b"new", 10, what="old master synced")
    assert master_addr(sents[0], "g2") == addr(g2[0])

    # strata-cli (as strata-cli) moves slots 0-99 from g1 to g2; the
    # source's link to the target authenticates as strata-repl.
    moved = [k for k in k1[1:] if key_slot(k) <= 99]
    assert moved
    edited = write_topology(cluster, g1, g2, ports, "100-8191", "0-99,8192-16383", name="edited.yaml")
    p = subprocess.run([binary("strata-cli"), "reshard", "--config", edited, "--yes"], capture_output=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    out = (p.stdout + p.stderr).decode(errors="replace")
    assert p.returncode == 0, out
    assert admin(g2[0]).get(moved[0]) == moved[0].encode()
    wait_until(lambda: r.mget(moved) == [k.encode() for k in moved], 10, what="moved keys through the proxy")
    # No internal link was ever refused a command.
    assert internal_refusals(nodes) == []
    for s in sents:
        assert s.alive()
    assert proxy.alive()


def test_production_example_checks():
    """deploy/examples/production.yaml (which uses users:) passes -t."""
    path = os.path.join(ROOT, "deploy", "examples", "production.yaml")
    for argv in ([binary("strata-sentinel"), "--config", path, "--bind", "10.0.2.21", "--port", "26379", "-t"],
                 [binary("strata-proxy"), "--config", path, "-t"]):
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert p.returncode == 0 and "configuration OK" in p.stdout + p.stderr, p.stdout + p.stderr
