"""Replication: convergence (full sync then streaming), incremental catch-up
after a replica's SIGKILL, replicas following a restarted master, automatic
full sync when the log was trimmed under a replica, the log kept only while
a replica may use it, backups (strata-dump /
strata-load).  Helpers: test_repl_common.py."""
import os
import subprocess
import time

import pytest
import redis

from harness import binary, wait_until
from test_repl_common import (Writer, assert_identical, fill_all_types, info, logical_dump, lsn,
                              read_dump_file, start_replica, strata_dump, wait_synced)


def test_replica_converges_with_every_type_and_ttl(cluster):
    m = cluster.node("master")
    mc = m.client()
    fill_all_types(mc, "before")              # reaches the replica by full sync
    mc.flushall()                              # an ordinary record, not a log reset
    fill_all_types(mc, "base")
    r = start_replica(cluster, m)
    wait_synced(m, r)
    fill_all_types(mc, "after", n=80)          # reaches it by streaming
    mc.delete("base:h:1", "base:z:2")
    mc.persist("base:s:0")
    mc.incr("counter")
    mc.pexpire("after:t:5", 123456)
    p = mc.pipeline(transaction=False)
    for i in range(300):
        p.set(f"pipe:{i}", "x" * (i % 50))
    p.execute()
    ment = assert_identical(cluster, m, r)
    assert len(ment) > 500
    data = logical_dump(r.client())
    assert not any(k.startswith(b"before:") for k in data)
    assert data[b"base:s:3"][2] > 0 and data[b"base:s:0"][2] == -1
    assert info(r)["repl_full_syncs"] == 1
    wait_until(lambda: info(m)["slave0"]["lag_records"] == 0, 5, what="acks caught up")


def test_replica_sigkill_under_load_catches_up_incrementally(cluster):
    m = cluster.node("master")
    r = start_replica(cluster, m)
    m.client().set("seed", "1")
    wait_synced(m, r)
    full_before = info(m)["sync_full"]
    w = Writer(m.port, "load", limit=100000, seconds=30, pipeline=8).start()
    wait_until(lambda: len(w.acked) > 2000, 20, what="writes under way")
    r.kill()                                   # SIGKILL mid-stream
    wait_until(lambda: len(w.acked) > 6000, 20, what="writes while the replica is down")
    r.start()
    time.sleep(0.3)
    w.stop()
    assert w.errors == 0
    wait_synced(m, r)
    ri = info(r)
    assert ri["repl_full_syncs"] == 0, "the restarted replica should not need a full sync"
    assert ri["repl_partial_syncs"] == 1
    assert info(m)["sync_full"] == full_before
    assert info(m)["sync_partial_ok"] >= 1
    assert_identical(cluster, m, r)
    rc = r.client()
    for i in (0, len(w.acked) // 2, len(w.acked) - 1):
        assert rc.get(f"load:{w.acked[i]}") == str(w.acked[i]).encode()


def test_master_restart_replicas_follow(cluster):
    m = cluster.node("master")
    r1 = start_replica(cluster, m, "r1")
    r2 = start_replica(cluster, m, "r2")
    fill_all_types(m.client(), "one")
    wait_synced(m, r1)
    wait_synced(m, r2)
    m.kill()
    wait_until(lambda: info(r1)["master_link_status"] == "down", 10, what="link down")
    m.start()
    assert m.client().get("one:s:1") is not None
    fill_all_types(m.client(), "two")
    for r in (r1, r2):
        wait_synced(m, r)
        assert info(r)["repl_full_syncs"] == 1      # only the first one
        assert info(r)["repl_partial_syncs"] >= 1
        assert_identical(cluster, m, r)
    m.stop()
    m.start()                                       # clean restart too
    m.client().set("three", "3")
    wait_synced(m, r1)
    assert r1.client().get("three") == b"3"


def test_trimmed_log_triggers_full_sync(cluster):
    m = cluster.node("master", args=["--wal_retention_bytes", "0", "--wal_retention_ms", "0"])
    r = start_replica(cluster, m)
    mc = m.client()
    fill_all_types(mc, "a")
    wait_synced(m, r)
    assert info(r)["repl_full_syncs"] == 1
    # While the replica is attached and caught up the log may be trimmed
    # under it: it is fed live and keeps streaming.
    for i in range(200):
        mc.set(f"live:{i}", i)
    wait_synced(m, r)
    r.stop()
    replica_lsn = lsn(m)
    for i in range(2000):
        mc.set(f"gone:{i}", i)
    fill_all_types(mc, "b")
    wait_until(lambda: info(m)["wal_first_lsn"] > replica_lsn + 1, 10, what="log trimmed")
    r.start()
    wait_synced(m, r)
    ri = info(r)
    assert ri["repl_full_syncs"] == 1 and ri["repl_partial_syncs"] == 0
    assert info(m)["sync_partial_err"] >= 1
    assert_identical(cluster, m, r)
    mc.set("after", "x")                       # streaming resumes after the full sync
    wait_synced(m, r)
    assert r.client().get("after") == b"x"


def test_log_kept_only_for_replicas(cluster):
    # A master no replica has read from keeps no log (as Redis has no
    # backlog until a replica connects); one attaches and the log is kept
    # from its full sync on; it is dropped wal_retention_ms after the last
    # replica left.
    m = cluster.node("master", args=["--wal_retention_ms", "8000"])
    mc = m.client()
    for i in range(200):
        mc.set(f"alone:{i}", i)
    wait_until(lambda: info(m)["repl_backlog_active"] == 0, 5, what="log off on a lone master")
    mi = info(m)
    assert mi["wal_bytes"] == 0 and mi["wal_first_lsn"] == mi["lsn"] + 1
    assert mi["wal_records_appended"] >= 200

    r = start_replica(cluster, m)
    fill_all_types(mc, "a")
    wait_synced(m, r)
    assert info(r)["repl_full_syncs"] == 1
    fill_all_types(mc, "b", n=20)
    wait_synced(m, r)
    mi = info(m)
    assert mi["repl_backlog_active"] == 1 and mi["wal_bytes"] > 0
    # A replica that restarts continues from the log.
    r.stop()
    for i in range(100):
        mc.set(f"gap:{i}", i)
    r.start()
    wait_synced(m, r)
    ri = info(r)                                # (counters of this process)
    assert ri["repl_full_syncs"] == 0 and ri["repl_partial_syncs"] == 1
    assert_identical(cluster, m, r)
    # Gone for longer than wal_retention_ms: the log goes; the replica's
    # next sync is a full one and the log is kept again.
    r.stop()
    wait_until(lambda: info(m)["repl_backlog_active"] == 0, 30, what="log dropped")
    assert info(m)["wal_bytes"] == 0
    mc.set("later", "1")
    r.start()
    wait_synced(m, r)
    ri = info(r)
    assert ri["repl_full_syncs"] == 1 and ri["repl_partial_syncs"] == 0
    assert info(m)["repl_backlog_active"] == 1
    mc.set("streamed", "1")
    wait_synced(m, r)
    assert r.client().get("streamed") == b"1"
    assert_identical(cluster, m, r)


def test_dump_and_load_round_trip(cluster):
    m = cluster.node("master")
    mc = m.client()
    fill_all_types(mc, "d", n=120)
    mc.flushall()
    fill_all_types(mc, "e", n=120)
    before = logical_dump(mc)
    path = strata_dump(cluster, m, "backup")
    pos, entries = read_dump_file(path)
    # (background GC of FLUSHALL's collections may log records after it)
    assert 0 < pos["lsn"] <= lsn(m) and pos["epoch"] == 1
    assert not any(k.startswith(b"AWL") or k.startswith(b"RWL") for k in entries)   # the log stays out
    mc.set("after-dump", "1")                                # not in the dump

    target = cluster.path("restored", "data")
    out = subprocess.run([binary("strata-load"), "--dir", target, path], capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode()
    n = cluster.node("restored")
    assert logical_dump(n.client()) == before
    ni = info(n)
    assert ni["lsn"] == pos["lsn"] and ni["wal_bytes"] == 0
    # Loading into a non-empty directory is refused and leaves it alone.
    n.stop()
    out = subprocess.run([binary("strata-load"), "--dir", target, path], capture_output=True, timeout=60)
    assert out.returncode != 0 and b"not empty" in out.stderr
    # A damaged file is refused and nothing is left behind.
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data[len(data) // 2] ^= 0x40
    bad = cluster.path("bad.dump")
    with open(bad, "wb") as f:
        f.write(data)
    target2 = cluster.path("restored2", "data")
    out = subprocess.run([binary("strata-load"), "--dir", target2, bad], capture_output=True, timeout=60)
    assert out.returncode != 0 and b"checksum" in out.stderr
    assert not os.path.exists(os.path.join(target2, "CURRENT"))
    # The restored node works as a master for a new replica.
    n.start()
    r = start_replica(cluster, n, "restored-replica")
    n.client().set("new", "1")
    assert_identical(cluster, n, r)


def test_full_sync_keeps_serving_reads_and_writes(cluster):
    """A larger full sync: the master keeps answering while it streams the
    snapshot, and writes made during the transfer reach the replica."""
    m = cluster.node("master")
    mc = m.client()
    val = os.urandom(2000)
    for b in range(20):
        p = mc.pipeline(transaction=False)
        for i in range(500):
            p.set(f"big:{b}:{i}", val)
        p.execute()
    r = start_replica(cluster, m)
    for i in range(500):
        mc.set(f"during:{i}", i)
    assert mc.get("big:3:3") == val
    wait_synced(m, r)
    assert r.client().get("during:499") == b"499"
    assert_identical(cluster, m, r)
    try:
        r.client().set("x", 1)
        raise AssertionError("replica accepted a write")
    except redis.ReadOnlyError:
        pass


def test_exec_is_one_record(cluster):
    m = cluster.node("master")
    r = start_replica(cluster, m)
    mc = m.client()
    mc.set("x", "0")
    wait_synced(m, r)
    before = info(m)["wal_records_appended"]
    p = mc.pipeline(transaction=True)
    p.set("a", "1").incr("x").hset("h", "f", "v").get("a")
    assert p.execute() == [True, 1, 1, b"1"]
    assert info(m)["wal_records_appended"] == before + 1
    # an aborted or write-less transaction logs nothing
    p = mc.pipeline(transaction=True)
    p.get("a").exists("x")
    p.execute()
    assert info(m)["wal_records_appended"] == before + 1
    wait_synced(m, r)
    rc = r.client()
    assert rc.get("a") == b"1" and rc.get("x") == b"1" and rc.hget("h", "f") == b"v"
    assert info(r)["wal_records_applied"] >= 1
    assert_identical(cluster, m, r)


def test_watch_on_replica_fails_when_master_changes_key(cluster):
    m = cluster.node("master")
    r = start_replica(cluster, m)
    mc = m.client()
    mc.set("w", "1")
    mc.hset("wh", "f", "1")
    wait_synced(m, r)
    rc = r.client()
    for change in (lambda: mc.set("w", "2"), lambda: mc.hset("wh", "g", "2")):
        p = rc.pipeline(transaction=True)
        p.watch("w", "wh")
        change()
        wait_synced(m, r)
        p.multi()
        p.get("w")
        with pytest.raises(redis.WatchError):
            p.execute()
    # unchanged keys: the transaction runs
    p = rc.pipeline(transaction=True)
    p.watch("w")
    p.multi()
    p.get("w")
    assert p.execute() == [b"2"]


def test_full_sync_fails_watches_on_keys_it_replaces(cluster):
    """A replica that loads a new master's snapshot fails the WATCH of keys
    that existed before or exist after, and keeps it for a key absent from
    both (Redis's rule when a replica loads its master's data)."""
    m1 = cluster.node("m1")
    m2 = cluster.node("m2")
    r = start_replica(cluster, m1)
    m1.client().set("old", "1")
    m2.client().set("new", "2")
    wait_synced(m1, r)
    watchers = {}
    for key in ("old", "new", "neither"):
        p = r.client().pipeline(transaction=True)
        p.watch(key)
        watchers[key] = p
    r.client().execute_command("REPLICAOF", "127.0.0.1", str(m2.port))
    wait_synced(m2, r)
    assert info(r)["repl_full_syncs"] == 2
    assert r.client().get("new") == b"2" and r.client().get("old") is None
    for key in ("old", "new"):
        p = watchers[key]
        p.multi()
        p.get(key)
        with pytest.raises(redis.WatchError):
            p.execute()
    p = watchers["neither"]
    p.multi()
    p.get("neither")
    assert p.execute() == [None]


def test_replica_reclaims_space_of_deleted_collections(cluster):
    """The master's GC reaches a replica as deletions; the replica compacts
    the finished ranges too, so its disk space comes back like the master's
    (without it the replica kept every deleted subkey's bytes until LevelDB
    happened to compact that range)."""
    import subprocess

    def du(node):
        path = os.path.join(node.dir, "data")
        return int(subprocess.check_output(["du", "-sb", path]).split()[0])

    small_log = ["--fsync", "no", "--wal-retention-bytes", "1000000"]
    m = cluster.node("master", args=small_log)
    r = start_replica(cluster, m, args=small_log)
    mc = m.client(socket_timeout=120)
    p = mc.pipeline(transaction=False)
    for i in range(0, 200000, 1000):
        p.execute_command("HSET", "big", *[x for j in range(i, i + 1000)
                                           for x in (f"field:{j}", f"value:{j}")])
    p.execute()
    wait_synced(m, r, timeout=120)
    time.sleep(1)
    before = du(r)
    assert mc.delete("big") == 1
    wait_until(lambda: mc.info("persistence")["gc_pending_collections"] == 0, 120,
               interval=0.2, what="the master's GC")
    mc.set("after-gc", "1")
    wait_synced(m, r, timeout=60)
    assert r.client().hlen("big") == 0
    wait_until(lambda: du(r) < before * 0.3, 120, interval=0.5,
               what=f"the replica's data directory to shrink below 30% of {before} bytes")
