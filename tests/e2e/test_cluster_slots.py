"""Nodes that know their slots (node/cluster/slots.h).

- A node's slot table: STRATA SETSLOTS once, STRATA SLOTS to read it,
  -MOVED <slot> <group>:<epoch> for a key of a slot it does not own,
  -CROSSSLOT for keys spanning owned and unowned slots, DBSIZE/KEYS/SCAN/
  RANDOMKEY leaving out keys of unowned slots; the table survives a
  restart, reaches a replica by full sync and goes through strata-dump and
  strata-load.
- The whole cluster: the sentinels seed every master from the YAML; a
  SIGHUP that moves slots keeps them on the group holding their keys
  (warning logged, -t reports it); a proxy started with the edited file
  follows -MOVED (without sentinels) or reads the masters' tables (with
  them); a promoted replica owns what its master owned."""
import signal
import subprocess

import pytest
import redis

from harness import binary, free_port, wait_until
from proxy_util import key_slot, keys_for_group, run_check, topology_text, write_file
from test_repl_common import read_dump_file, strata_dump
from test_sentinel_common import (addr, role, start_group, start_sentinels, wait_master,
                                  write_topology)

RANGES = [(0, 8191), (8192, 16383)]


def table(node):
    r = node.client(socket_timeout=5).execute_command("STRATA", "SLOTS")
    d = dict(zip(r[0::2], r[1::2]))
    return {"group": d[b"group"] and d[b"group"].decode(),
            "ranges": [(int(a), int(b), g.decode(), int(e)) for a, b, g, e in d[b"ranges"]],
            "unowned_keys": int(d[b"unowned_keys"])}


def moved_of(exc):
    slot, where = str(exc).split(" ")[1:3]
    return int(slot), where


def test_node_table_moved_and_views(cluster):
    n = cluster.node("n")
    c = n.client()
    assert table(n) == {"group": None, "ranges": [], "unowned_keys": 0}
    g1 = keys_for_group(RANGES, 0, 5, "a")
    g2 = keys_for_group(RANGES, 1, 5, "b")
    c.set(g2[0], "before")  # written while the node owned every slot
    for k in g1:
        c.set(k, "1")
    # Errors in the arguments are refused, nothing is set.
    for bad, msg in [(["g1", "1", "g1", "0-100"], "not assigned"),
                     (["g1", "1", "g1", "0-9000", "g2", "8000-16383"], "more than one group"),
                     (["g3", "1", "g1", "0-8191", "g2", "8192-16383"], "not among"),
                     (["g1", "0", "g1", "0-8191", "g2", "8192-16383"], "epoch")]:
        with pytest.raises(redis.ResponseError, match=msg):
            c.execute_command("STRATA", "SETSLOTS", *bad)
    assert table(n)["group"] is None
    assert c.execute_command("STRATA", "SETSLOTS", "g1", "1", "g1", "0-8191", "g2", "8192-16383") == b"OK"
    t = table(n)
    assert t == {"group": "g1", "ranges": [(0, 8191, "g1", 1), (8192, 16383, "g2", 1)],
                 "unowned_keys": 1}
    with pytest.raises(redis.ResponseError, match="already has a slot table"):
        c.execute_command("STRATA", "SETSLOTS", "g2", "1", "g1", "0-8191", "g2", "8192-16383")
    # An unowned key: MOVED naming the group and the range's epoch, parseable as Redis's.
    for cmd in (["GET", g2[0]], ["SET", g2[1], "x"], ["HSET", g2[1], "f", "v"]):
        with pytest.raises(redis.ResponseError) as e:
            c.execute_command(*cmd)
        assert str(e.value).startswith("MOVED ")
        assert moved_of(e.value) == (key_slot(cmd[1]), "g2:1")
    assert c.get(g1[0]) == b"1"
    assert c.mget(g1) == [b"1"] * 5          # owned keys of several slots: allowed
    with pytest.raises(redis.ResponseError, match="^CROSSSLOT Keys in request don't hash to the same slot"):
        c.mget([g1[0], g2[0]])
    with pytest.raises(redis.ResponseError, match="^MOVED"):
        c.mget(["{%s}x" % g2[0], g2[0]])     # one unowned slot: MOVED
    # In MULTI the redirection aborts the transaction, as in Redis Cluster.
    p = c.pipeline(transaction=True)
    p.set(g1[0], "2").set(g2[0], "3")
    with pytest.raises(redis.ResponseError):
        p.execute()
    assert c.get(g1[0]) == b"1"
    # Views leave out the key of the unowned slot (it is still stored).
    assert c.dbsize() == 5
    assert sorted(c.keys("*")) == sorted(k.encode() for k in g1)
    assert sorted(c.scan_iter(count=2)) == sorted(k.encode() for k in g1)
    for _ in range(20):
        assert c.randomkey().decode() in g1
    c.delete(g1[0])
    assert c.dbsize() == 4
    # The table survives a restart, reaches a replica by full sync and is
    # in strata-dump's copy.
    n.stop()
    n.start()
    assert table(n) == {"group": "g1", "ranges": t["ranges"], "unowned_keys": 1}
    assert n.client().dbsize() == 4
    rep = cluster.node("rep", args=["--replicaof", addr(n)])
    wait_until(lambda: table(rep)["group"] == "g1", 20, what="replica has the table")
    with pytest.raises(redis.ResponseError, match="^MOVED"):
        rep.client().get(g2[0])
    assert rep.client().get(g1[1]) == b"1"
    assert rep.client().dbsize() == 4
    with pytest.raises(redis.ResponseError, match="read only replica"):
        rep.client().execute_command("STRATA", "SETSLOTS", "g1", "1", "g1", "0-16383")
    path = strata_dump(cluster, n, "slots")
    _, entries = read_dump_file(path)
    assert b"Rslots" in entries and b"Rslotsx" in entries
    out = subprocess.run([binary("strata-load"), "--dir", cluster.path("restored", "data"), path],
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    restored = cluster.node("restored")
    assert table(restored) == {"group": "g1", "ranges": t["ranges"], "unowned_keys": 1}
    with pytest.raises(redis.ResponseError, match="^MOVED"):
        restored.client().get(g2[0])


def test_seeding_sighup_moved_and_failover(cluster):
    g1 = start_group(cluster, "g1")
    g2 = start_group(cluster, "g2")
    ports = [free_port() for _ in range(3)]
    proxy_opts = {"timeout_ms": 2000, "switch_wait_ms": 8000, "sentinel_poll_ms": 200}
    groups = [("g1", "0-8191", g1), ("g2", "8192-16383", g2)]
    topo = write_topology(cluster, groups, ports, proxy=proxy_opts)
    sents = start_sentinels(cluster, topo, ports)
    want = [(0, 8191, "g1", 1), (8192, 16383, "g2", 1)]
    for name, nodes in (("g1", g1), ("g2", g2)):
        for p in nodes:  # the master is seeded, its replica gets it by replication
            wait_until(lambda p=p: table(p) == {"group": name, "ranges": want, "unowned_keys": 0},
                       20, what=f"{p.name} seeded")
    proxy = cluster.proxy(topo)
    r = proxy.client(socket_timeout=10)
    keys = [f"k{i}" for i in range(200)]
    for k in keys:
        assert r.set(k, k)
    assert r.dbsize() == 200

    # SIGHUP with slots 4000-12000 moved: they stay where their keys are.
    moved = [("g1", "0-3999,12001-16383", g1), ("g2", "4000-12000", g2)]
    write_topology(cluster, moved, ports, proxy=proxy_opts)
    rc, out = run_check(topo)
    assert rc == 0 and "needs a slot migration" in out and "slots 4000-8191" in out, out
    reloads = r.info("server")["reloads"]
    proxy.proc.send_signal(signal.SIGHUP)
    for s in sents:
        s.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: r.info("server")["reloads"] > reloads, 10, what="proxy reload")
    assert [r.get(k) for k in keys] == [k.encode() for k in keys]
    log = open(proxy.log_path, "rb").read().decode(errors="replace")
    assert "slots 4000-8191: the file moves them from group g1 to group g2" in log, log[-2000:]
    assert "slots 12001-16383: the file moves them from group g2 to group g1" in log, log[-2000:]
    assert r.info("server")["slots_kept"] == (8191 - 4000 + 1) + (16383 - 12001 + 1)
    # YAML edits never change a table.
    assert table(g1[0])["ranges"] == want and table(g2[0])["ranges"] == want

    # A proxy started with the edited file and no sentinels routes wrongly
    # at first: the nodes' -MOVED sends each request where its slot is owned.
    static = write_file(cluster, "static.yaml", topology_text(
        [(n, sl, [addr(p) for p in nodes]) for n, sl, nodes in moved], proxy=proxy_opts))
    proxy2 = cluster.proxy(static, name="proxy2")
    r2 = proxy2.client(socket_timeout=10)
    assert [r2.get(k) for k in keys] == [k.encode() for k in keys]
    info = r2.info("server")
    assert info["moved"] >= 1 and info["moved_resent"] >= 1
    # The map learned each slot's group: a second pass needs no hop.
    assert [r2.get(k) for k in keys] == [k.encode() for k in keys]
    assert r2.info("server")["moved_resent"] == info["moved_resent"]
    r2.set("k-new-5000", "v")   # writes follow as well
    assert r.get("k-new-5000") == b"v"
    # With the sentinels, a proxy reads the masters' tables: right at once.
    proxy3 = cluster.proxy(topo, name="proxy3")
    r3 = proxy3.client(socket_timeout=10)
    assert [r3.get(k) for k in keys] == [k.encode() for k in keys]
    assert r3.mget(keys) == [k.encode() for k in keys]   # multi-key: split right
    assert r3.info("server")["moved"] == 0
    assert "group g1's table owns them" in open(proxy3.log_path, "rb").read().decode(errors="replace")

    # Failover of g1: the promoted replica owns what its master owned.
    g1[0].kill(signal.SIGKILL)
    wait_until(lambda: role(g1[1]) == "master", 20, what="g1 replica promoted")
    wait_master(sents[1:], "g1", addr(g1[1]))
    assert table(g1[1]) == {"group": "g1", "ranges": want, "unowned_keys": 0}
    g2key = keys_for_group(RANGES, 1, 1, "x")[0]
    with pytest.raises(redis.ResponseError, match="^MOVED %d g2:1" % key_slot(g2key)):
        g1[1].client().get(g2key)
    wait_until(lambda: r.get(keys[0]) is not None, 20, what="proxy follows the failover")
    assert [r.get(k) for k in keys] == [k.encode() for k in keys]
    assert r.dbsize() == 201
