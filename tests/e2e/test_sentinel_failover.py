"""strata-sentinel failover scenarios on strata-node groups (no proxy):
sentinels dying, a slow master, a manual failover under load, and a
sentinel killed in the middle of a failover.

Every test polls; the only bounded observation windows are where the test
asserts that something does NOT happen (no failover), and those last
longer than the failover would have taken (down_after_ms + election)."""
import os
import signal
import time

import pytest
import redis

from harness import free_port, wait_until
from test_sentinel_common import (Events, Writer, addr, check_acked, master_addr, master_state,
                                  node_epoch, role, start_group, start_sentinels, wait_master,
                                  write_topology)
from test_repl_common import logical_dump, wait_synced

DOWN_AFTER = 1000


def start_g1(cluster, nreplicas=1, node_args=(), **kw):
    g = start_group(cluster, "g1", nreplicas=nreplicas, node_args=node_args)
    ports = [free_port() for _ in range(3)]
    topo = write_topology(cluster, [("g1", "0-16383", g)], ports, down_after=DOWN_AFTER)
    sents = start_sentinels(cluster, topo, ports, **kw)
    return g, sents, topo


def never(cond, seconds, what):
    """Assert cond() stays false for `seconds` (polling)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert not cond(), what
        time.sleep(0.05)


def test_one_sentinel_dead_failover_still_happens(cluster):
    g, sents, _ = start_g1(cluster)
    g[0].client().set("k", "v")
    wait_synced(g[0], g[1])
    sents[2].kill(signal.SIGKILL)
    e0 = node_epoch(g[1])
    g[0].kill(signal.SIGKILL)
    wait_master(sents[:2], "g1", addr(g[1]))
    assert role(g[1]) == "master" and node_epoch(g[1]) == e0 + 1
    assert g[1].client().get("k") == b"v"
    # The leader's SENTINEL SENTINELS shows the vote the live peer gave it.
    def votes_for_self(s):
        me = s.client().execute_command("SENTINEL", "MYID")
        peers = [dict(zip(e[::2], e[1::2]))
                 for e in s.client().execute_command("SENTINEL", "SENTINELS", "g1")]
        return [p for p in peers if p[b"voted-leader"] == me and int(p[b"voted-leader-epoch"]) >= 1]
    assert any(votes_for_self(s) for s in sents[:2])
    # SENTINEL MASTER shows the node's run id (INFO server), as Redis's does.
    rid = g[1].client().info("server")["run_id"]
    wait_until(lambda: sents[0].client().execute_command("SENTINEL", "MASTER", "g1")[7] == rid.encode(),
               5, what="runid in SENTINEL MASTER")


def test_two_sentinels_dead_no_failover_then_the_right_one(cluster):
    g, sents, _ = start_g1(cluster)
    ev = Events(sents[0])
    sents[1].kill(signal.SIGKILL)
    sents[2].kill(signal.SIGKILL)
    g[0].kill(signal.SIGKILL)
    # The lone sentinel sees the master down but cannot reach the quorum.
    wait_until(lambda: "s_down" in master_state(sents[0], "g1")["flags"], 5, what="sdown")
    never(lambda: role(g[1]) != "slave" or master_addr(sents[0], "g1") != addr(g[0]) or
          "o_down" in master_state(sents[0], "g1")["flags"],
          DOWN_AFTER / 1000 + 3, "a lone sentinel failed over (or saw odown)")
    assert ev.count("+switch-master") == 0 and ev.count("+try-failover") == 0
    # One sentinel back: a majority again, and the failover happens, to
    # the only replica there is.
    sents[1].start()
    wait_master(sents[:2], "g1", addr(g[1]))
    assert role(g[1]) == "master"
    ev.close()


def test_slow_master_short_stop_no_failover_long_stop_exactly_one(cluster):
    g, sents, _ = start_g1(cluster, node_args=["--fence_lease_ms", "500"])
    ev = Events(sents[0])
    e1 = node_epoch(g[1])
    # Stopped for half of down_after_ms: nothing happens.
    g[0].proc.send_signal(signal.SIGSTOP)
    time.sleep(DOWN_AFTER / 2000)
    g[0].proc.send_signal(signal.SIGCONT)
    never(lambda: any(master_addr(s, "g1") != addr(g[0]) for s in sents) or role(g[1]) != "slave",
          DOWN_AFTER / 1000 + 2, "a short stop caused a failover")
    assert ev.count("+sdown") == 0 and ev.count("+switch-master") == 0
    # Stopped for longer: exactly one failover.
    g[0].proc.send_signal(signal.SIGSTOP)
    try:
        wait_master(sents, "g1", addr(g[1]), timeout=15)
    finally:
        g[0].proc.send_signal(signal.SIGCONT)
    # The old master comes back and is made a replica of the new one.
    wait_until(lambda: role(g[0]) == "slave" and
               g[0].client().info("replication")["master_port"] == g[1].port, 15,
               what="old master follows the new one")
    never(lambda: master_addr(sents[0], "g1") != addr(g[1]), 2, "a second failover")
    assert ev.count("+switch-master") == 1
    assert node_epoch(g[1]) == e1 + 1
    assert {master_state(s, "g1")["config-epoch"] for s in sents} == {
        master_state(sents[0], "g1")["config-epoch"]}
    ev.close()


def test_manual_failover_under_load_loses_nothing(cluster):
    g, sents, _ = start_g1(cluster, nreplicas=2, node_args=["--min_replica_acks", "1"])
    rs = sents[0].client()
    from redis.sentinel import Sentinel
    s = Sentinel([("127.0.0.1", x.port) for x in sents], socket_timeout=2)
    # The writer follows the master through redis-py's Sentinel class.
    w = Writer(s.master_for("g1", socket_timeout=2), prefix="m").start()
    ev = Events(sents[0])
    try:
        w.wait_acked(300)
        assert rs.execute_command("SENTINEL", "FAILOVER", "g1") == b"OK"
        with pytest.raises(redis.ResponseError, match="INPROG"):
            rs.execute_command("SENTINEL", "FAILOVER", "g1")
        wait_until(lambda: master_addr(sents[0], "g1") != addr(g[0]), 15, what="manual failover")
        new = addr(g[1]) if master_addr(sents[0], "g1") == addr(g[1]) else addr(g[2])
        wait_master(sents, "g1", new)
        w.wait_acked(300)
    finally:
        w.finish()
    newp = g[1] if new == addr(g[1]) else g[2]
    check_acked(newp.client(), w)
    # The graceful path ran: writes paused on the old master, then promotion.
    wait_until(lambda: ev.count("+failover-end") == 1, 5, what="+failover-end")
    assert ev.count("+failover-state-pause-writes") == 1 and ev.count("+switch-master") == 1
    ev.close()
    # The old master follows the new one and ends identical.
    for p in g:
        if p is not newp:
            wait_until(lambda p=p: role(p) == "slave" and
                       p.client().info("replication")["master_port"] == newp.port, 15,
                       what=f"{p.name} follows the new master")
            wait_synced(newp, p)
            assert logical_dump(p.client()) == logical_dump(newp.client())
    with pytest.raises(redis.ResponseError, match="No such master"):
        rs.execute_command("SENTINEL", "FAILOVER", "nope")


@pytest.mark.parametrize("point", ["after-elect", "after-promote"])
def test_sentinel_restart_during_failover_completes_once(cluster, point):
    stall = cluster.path("stall")
    open(stall, "w").close()
    g, sents, _ = start_g1(cluster, nreplicas=2, env={
        "STRATA_TEST_HOOKS": "1", "STRATA_SENTINEL_STALL": point,
        "STRATA_SENTINEL_STALL_FILE": stall})
    for i in range(50):
        g[0].client().set(f"k{i}", i)
    wait_synced(g[0], g[1])
    wait_synced(g[0], g[2])
    epochs = {p.name: node_epoch(p) for p in g[1:]}
    g[0].kill(signal.SIGKILL)
    # One leader removes the file and stalls; find it and kill it.
    wait_until(lambda: not os.path.exists(stall), 15, what="a leader stalled")
    leader = wait_until(lambda: next((s for s in sents
                                      if master_state(s, "g1")["failover-state"] != "none"), None),
                        5, what="the stalled leader")
    leader.kill(signal.SIGKILL)
    leader.start()
    # Another leader finishes within failover_timeout_ms (plus detection).
    wait_until(lambda: master_addr(sents[0], "g1") != addr(g[0]), 20, what="failover completed")
    new = master_addr(sents[0], "g1")
    wait_master(sents, "g1", new)
    newp = next(p for p in g[1:] if addr(p) == new)
    other = next(p for p in g[1:] if p is not newp)
    # Exactly one promotion: the new master's epoch moved by one, the
    # other replica follows it, nobody else is a master.
    assert node_epoch(newp) == epochs[newp.name] + 1
    wait_until(lambda: role(other) == "slave" and
               other.client().info("replication")["master_port"] == newp.port, 15,
               what="the other replica follows the new master")
    assert len({master_state(s, "g1")["config-epoch"] for s in sents}) == 1
    assert all(newp.client().get(f"k{i}") == str(i).encode() for i in range(50))


def _held_set(client, key, result):
    try:
        result.append(client.set(key, "v"))
    except redis.ResponseError as e:
        result.append(e)


def _start_held_write(node, name):
    """SET name on its own named connection, in a thread (the write may be
    held); returns (thread, result list)."""
    import threading
    res = []
    c = node.client(socket_timeout=30, client_name=name)
    c.ping()
    t = threading.Thread(target=_held_set, args=(c, name, res), daemon=True)
    t.start()
    return t, res


def _client_named(node, name):
    return any(c.get("name") == name for c in node.client().client_list())


def test_pause_writes_holds_writes_and_background_writes(cluster):
    """REPLCONF pause-writes (a sentinel's manual failover) holds writes
    as CLIENT PAUSE WRITE does: no -READONLY while paused, no expiry
    record either; after a resume the held write runs; if the node became
    a replica meanwhile, it gets -READONLY and writes nothing."""
    m, r = start_group(cluster, "g1", nreplicas=1)
    mc = m.client()
    mc.set("exp", "1", px=50)
    wait_synced(m, r)
    lsn0 = int(mc.info("replication")["lsn"])
    assert mc.execute_command("REPLCONF", "pause-writes", "20000") == b"OK"
    t, res = _start_held_write(m, "held1")
    # Held, not refused: no reply while the pause lasts.
    never(lambda: bool(res), 0.5, "a reply to a write sent during the pause")
    assert _client_named(m, "held1") and mc.get("held1") is None
    assert mc.get("exp") is None                          # expired reads as absent...
    # ... but no expiry record while paused: watch several expiry cycles
    # (hz 10) for a record that must not appear.
    never(lambda: int(mc.info("replication")["lsn"]) != lsn0, 1.0, "a record written while paused")
    assert mc.execute_command("REPLCONF", "pause-writes", "0") == b"OK"
    t.join(timeout=10)
    assert res == [True] and mc.get("held1") == b"v"
    wait_until(lambda: int(mc.info("replication")["lsn"]) >= lsn0 + 2, 5,
               what="the held write and the expiry recorded after the pause")

    # Paused again, and the node steps down before the pause ends: the held
    # write is answered -READONLY, as Redis answers writes held by CLIENT
    # PAUSE on a master that became a replica.  Not acknowledged, not applied.
    wait_synced(m, r)
    assert mc.execute_command("REPLCONF", "pause-writes", "20000") == b"OK"
    t2, res2 = _start_held_write(m, "held2")
    never(lambda: bool(res2), 0.5, "a reply to a write sent during the pause")
    r.client().execute_command("REPLICAOF", "NO", "ONE")
    mc.execute_command("REPLICAOF", "127.0.0.1", str(r.port))
    assert mc.execute_command("REPLCONF", "pause-writes", "0") == b"OK"
    t2.join(timeout=10)
    assert len(res2) == 1 and isinstance(res2[0], redis.ResponseError), res2
    assert str(res2[0]).startswith("You can't write against a read only replica")
    wait_until(lambda: mc.info("replication").get("master_link_status") == "up", 10,
               what="old master follows r")
    assert r.client().get("held2") is None and mc.get("held2") is None
