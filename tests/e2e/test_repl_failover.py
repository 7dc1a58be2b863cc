"""Replication under failure: semi-synchronous acks surviving the master's
SIGKILL, the ack timeout and its two fallbacks, promotion with an old master
that returns with writes the new master never had, and a corrupted log
record that the replica refuses.  Helpers: test_repl_common.py."""
import signal
import threading
import time

import pytest
import redis

from difftest import RespConn
from harness import wait_until
from test_repl_common import (Writer, assert_identical, fill_all_types, info, logical_dump, lsn,
                              start_replica, wait_synced)


def test_semisync_acked_writes_survive_master_sigkill(cluster):
    m = cluster.node("master", args=["--min_replica_acks", "1", "--replica_ack_timeout_ms", "10000"])
    r = start_replica(cluster, m)
    wait_until(lambda: info(m)["connected_slaves"] == 1 and info(m)["slave0"]["state"] == "online",
               15, what="replica online")
    # Several writers at once, some pipelined: all park on their own lsn.
    writers = [Writer(m.port, f"w{i}", limit=100000, seconds=30, pipeline=1 + 7 * (i % 2)).start()
               for i in range(4)]
    wait_until(lambda: sum(len(w.acked) for w in writers) > 4000, 30, what="acknowledged writes")
    m.kill()  # right after acknowledged writes, others in flight
    for w in writers:
        w.stop()
    acked = {(w.prefix, i) for w in writers for i in w.acked}
    assert len(acked) > 4000
    rc = r.client()
    p = rc.pipeline(transaction=False)
    keys = sorted(acked)
    for prefix, i in keys:
        p.get(f"{prefix}:{i}")
    values = p.execute()
    missing = [k for k, v in zip(keys, values) if v != str(k[1]).encode()]
    assert not missing, f"{len(missing)} acknowledged writes missing on the replica, e.g. {missing[:5]}"


def test_semisync_timeout_error_and_async_fallback(cluster):
    m = cluster.node("master", args=["--min_replica_acks", "1", "--replica_ack_timeout_ms", "300"])
    mc = m.client()
    # No replica at all: refused before running, as Redis's min-replicas-to-write.
    with pytest.raises(redis.ResponseError, match="^NOREPLICAS Not enough good replicas to write.$"):
        mc.set("a", "1")
    assert mc.get("a") is None
    r = start_replica(cluster, m)
    wait_until(lambda: info(m)["connected_slaves"] == 1, 15, what="replica attached")
    wait_until(lambda: mc.set("b", "1"), 15, what="semi-sync write acknowledged")
    # A replica that stops acking: the held write answers -NOREPLICAS after
    # the timeout (it is committed on the master all the same), and other
    # clients are served meanwhile.
    r.proc.send_signal(signal.SIGSTOP)
    try:
        errs = []

        def held():
            try:
                m.client().set("c", "1")
            except redis.ResponseError as e:
                errs.append(str(e))
        th = threading.Thread(target=held)
        t0 = time.monotonic()
        th.start()
        time.sleep(0.05)
        assert mc.get("b") == b"1"           # reads are not blocked
        th.join(10)
        assert errs == ["NOREPLICAS Not enough good replicas to write."]
        assert time.monotonic() - t0 >= 0.29
        assert info(m)["semi_sync_timeouts"] >= 1
        # Pipelined: every write reply becomes the error, reads keep theirs.
        p = m.client().pipeline(transaction=False)
        p.set("d", "1").get("b").incr("n")
        res = p.execute(raise_on_error=False)
        assert isinstance(res[0], redis.ResponseError) and res[1] == b"1"
        assert isinstance(res[2], redis.ResponseError)
        # Async fallback: one timeout, then writes stop waiting until the
        # replica has caught up again.
        mc.config_set("replica_ack_fallback", "async")
        t0 = time.monotonic()
        assert mc.set("e", "1")
        assert time.monotonic() - t0 >= 0.29
        assert info(m)["semi_sync_status"] == "degraded"
        t0 = time.monotonic()
        for i in range(20):
            mc.set(f"f{i}", i)
        assert time.monotonic() - t0 < 0.29 * 5
    finally:
        r.proc.send_signal(signal.SIGCONT)
    wait_synced(m, r)
    wait_until(lambda: info(m)["semi_sync_status"] == "on", 10, what="semi-sync back on")
    assert_identical(cluster, m, r)


def test_promotion_and_old_master_with_extra_writes_rejoins(cluster):
    a = cluster.node("a")
    b = start_replica(cluster, a, "b")
    ac = a.client()
    fill_all_types(ac, "shared")
    wait_synced(a, b)
    common_lsn = lsn(a)
    # B is promoted (new epoch) while A, unaware, keeps taking writes that
    # never reach B.
    b.client().replicaof("NO", "ONE")
    assert info(b)["epoch"] == 2
    for i in range(50):
        ac.set(f"lost:{i}", i)
    ac.delete("shared:s:1")
    bc = b.client()
    for i in range(30):
        bc.set(f"new:{i}", i)
    bc.hset("shared:h:2", "nf", "nv")
    assert lsn(a) > lsn(b) > common_lsn     # A is even ahead in lsn
    # A comes back as B's replica (killed and restarted, as after a crash).
    a.kill()
    a.args = a.args + ["--replicaof", f"127.0.0.1:{b.port}"]
    a.start()
    wait_synced(b, a)
    ai = info(a)
    assert ai["repl_full_syncs"] == 1, "divergent history must be replaced by a full sync"
    assert info(b)["sync_partial_err"] >= 1
    data = logical_dump(a.client())
    assert not any(k.startswith(b"lost:") for k in data)
    assert data[b"shared:s:1"][1] is not None
    assert data[b"new:29"][1] == b"29"
    assert_identical(cluster, b, a)
    bc.set("later", "1")
    wait_synced(b, a)
    assert a.client().get("later") == b"1"
    assert info(a)["epoch"] == 2


def test_old_master_demoted_by_replicaof_at_runtime(cluster):
    """Same, but the old master stays up and is pointed at the new one with
    REPLICAOF: its unreplicated writes are dropped by the resync."""
    a = cluster.node("a")
    b = start_replica(cluster, a, "b")
    a.client().set("x", "1")
    wait_synced(a, b)
    b.client().replicaof("NO", "ONE")
    a.client().set("only-on-a", "1")
    b.client().set("only-on-b", "1")
    a.client().replicaof("127.0.0.1", b.port)
    wait_synced(b, a)
    assert a.client().get("only-on-a") is None and a.client().get("only-on-b") == b"1"
    assert_identical(cluster, b, a)


def test_corrupted_record_is_refused_and_resynced(cluster, monkeypatch):
    monkeypatch.setenv("STRATA_TEST_HOOKS", "1")
    m = cluster.node("master")
    r = start_replica(cluster, m)
    mc = m.client()
    mc.set("pre", "1")
    wait_synced(m, r)
    r.stop()
    for i in range(20):
        mc.set(f"k{i}", f"value-{i}")
    mc.set("victim", "good-value")
    victim_lsn = lsn(m)
    for i in range(20, 40):
        mc.set(f"k{i}", f"value-{i}")
    # Flip a byte of the stored record (inside the value "good-value").
    assert mc.execute_command("REPLCONF", "debug-corrupt", str(victim_lsn)) in (True, b"OK")
    r.start()
    wait_synced(m, r)
    ri = info(r)
    assert ri["repl_bad_records"] == 1
    assert ri["repl_full_syncs"] == 1          # refused, then resynced from a snapshot
    with open(r.log_path, "rb") as f:
        log = f.read()
    assert f"lsn {victim_lsn}".encode() in log and b"checksum mismatch" in log
    rc = r.client()
    assert rc.get("victim") == b"good-value"
    assert rc.get("k39") == b"value-39"
    assert_identical(cluster, m, r)


def test_corrupt_hook_is_disabled_by_default(cluster):
    m = cluster.node("master")
    m.client().set("a", "1")
    with pytest.raises(redis.ResponseError, match="test hooks are disabled"):
        m.client().execute_command("REPLCONF", "debug-corrupt", "1")


def test_fencing_lease(cluster):
    m = cluster.node("master", args=["--fence_lease_ms", "400"])
    mc = m.client()
    mc.set("a", "1")                          # within the lease after start-up
    mc.set("ttl", "x", px=700)
    wait_until(lambda: _write_refused(mc), 5, what="fenced")
    assert info(m)["fenced"] == 1
    # Fenced, the master adds nothing to its history, not even expiry: the
    # expired key reads as gone but neither a read nor the expiry cycle
    # deletes it (a replaced master must not grow a divergent log).
    fenced_lsn = lsn(m)
    wait_until(lambda: mc.get("ttl") is None, 5, what="ttl expired")
    time.sleep(0.5)                           # several expiry cycles
    assert lsn(m) == fenced_lsn
    assert info(m, "stats")["expired_keys"] == 0
    r = start_replica(cluster, m)             # a replica's acks renew the lease
    wait_until(lambda: mc.set("b", "1"), 10, what="writes accepted again")
    wait_synced(m, r)
    assert r.client().get("b") == b"1"
    wait_until(lambda: info(m, "stats")["expired_keys"] == 1, 5, what="expiry resumes")


def test_fenced_exec_ends_the_transaction(cluster):
    """With acked_reads, a fenced master refuses EXEC before it runs; the
    transaction must end there (EXECABORT, as Redis's execCommandAbort),
    or the connection stays in MULTI and queues whatever comes next: on a
    proxy's shared link, other clients' commands answered +QUEUED (found
    by the nemesis run)."""
    m = cluster.node("master", args=["--fence_lease_ms", "400", "--acked_reads", "yes",
                                     "--min_replica_acks", "1"])
    mc = m.client()
    wait_until(lambda: info(m)["fenced"] == 1, 5, what="fenced")
    c = RespConn("127.0.0.1", m.port)
    try:
        assert c.call("MULTI") == "OK"
        assert c.call("GET", "a") == "QUEUED"
        r = c.call("EXEC")
        assert isinstance(r, bytes) and r.startswith(
            b"EXECABORT Transaction discarded because of: READONLY Reads refused"), r
        r = c.call("GET", "a")
        assert isinstance(r, bytes) and r.startswith(b"READONLY Reads refused"), r
    finally:
        c.close()
    assert "errorstat_EXECABORT" in mc.info("errorstats")


def _write_refused(c):
    try:
        c.set("probe", "1")
        return False
    except redis.ResponseError as e:
        assert "lost its lease" in str(e)
        return True


def test_delayed_lease_renewal_is_ignored(cluster):
    """A sentinel's renewal that waited on the way (sentinel-time far behind
    what the connection's earlier renewals showed) does not renew the lease:
    a network that held packets across a failover must not revive a
    replaced master.  A fresh renewal on the same connection does."""
    m = cluster.node("master", args=["--fence_lease_ms", "400"])
    c = m.client(single_connection_client=True)
    t0 = time.monotonic()

    def renew(late_ms=0):
        sent = 10_000_000 + int((time.monotonic() - t0) * 1000) - late_ms
        c.execute_command("REPLCONF", "sentinel-count", "1", "sentinel-renew", "s1",
                          "sentinel-time", str(sent))

    for _ in range(8):                      # on schedule: the baseline
        renew()
        time.sleep(0.05)
    assert c.set("k", "1")
    wait_until(lambda: _write_refused(c), 5, what="fenced once renewals stop")
    renew(late_ms=1000)                     # written 1 s ago, delivered now
    assert _write_refused(c)
    renew()                                 # on time again
    assert c.set("k", "2")


def test_slow_disk_hook(cluster, monkeypatch, tmp_path):
    """The slow-disk test hook (tests/nemesis: the slow-disk fault): while
    the file holds N, every write to LevelDB waits N ms; without the file,
    or without STRATA_TEST_HOOKS=1, nothing waits."""
    delay = tmp_path / "disk-delay-ms"
    monkeypatch.setenv("STRATA_TEST_HOOKS", "1")
    monkeypatch.setenv("STRATA_TEST_DISK_DELAY_FILE", str(delay))
    c = cluster.node("master").client()

    def set_time(key):
        t = time.monotonic()
        assert c.set(key, "v")
        return time.monotonic() - t

    assert min(set_time(f"fast{i}") for i in range(5)) < 0.1
    delay.write_text("300\n")
    time.sleep(0.3)  # the node re-reads the file every 100 ms
    assert min(set_time(f"slow{i}") for i in range(3)) >= 0.3
    delay.unlink()
    time.sleep(0.3)
    assert min(set_time(f"again{i}") for i in range(5)) < 0.1
    assert c.get("slow0") == b"v"
    # Without STRATA_TEST_HOOKS=1 the file is ignored.
    monkeypatch.delenv("STRATA_TEST_HOOKS")
    delay.write_text("300\n")
    c2 = cluster.node("other").client()
    t = time.monotonic()
    for i in range(3):
        c2.set(f"k{i}", "v")
    assert time.monotonic() - t < 0.5


def test_acked_reads_never_show_an_unacknowledged_write(cluster):
    """acked_reads: yes.  A write the replicas did not acknowledge stays on
    the master (a failover may still lose it): a read that could show it
    waits for the acks, and answers -NOREPLICAS on the ack timeout instead
    of the value.  Without the option the same read shows the write."""
    m = cluster.node("master", args=["--min_replica_acks", "1", "--replica_ack_timeout_ms", "300",
                                      "--acked_reads", "yes"])
    mc = m.client()
    r = start_replica(cluster, m)
    wait_until(lambda: info(m)["connected_slaves"] == 1, 15, what="replica attached")
    wait_until(lambda: mc.set("k", "acked"), 15, what="semi-sync write acknowledged")
    t0 = time.monotonic()
    assert mc.get("k") == b"acked"        # nothing unacknowledged: no wait
    assert time.monotonic() - t0 < 0.25
    r.proc.send_signal(signal.SIGSTOP)
    try:
        with pytest.raises(redis.ResponseError, match="^NOREPLICAS"):
            mc.set("k", "unacked")
        t0 = time.monotonic()
        with pytest.raises(redis.ResponseError, match="^NOREPLICAS Not enough good replicas"):
            mc.get("k")
        assert time.monotonic() - t0 >= 0.29
        # In a pipeline, every read after the unacknowledged write is held.
        p = m.client().pipeline(transaction=False)
        p.get("k").exists("k").lrange("nothing", 0, -1)
        res = p.execute(raise_on_error=False)
        assert all(isinstance(x, redis.ResponseError) for x in res), res
        # A transaction or a script that only reads is a read too.
        p = m.client().pipeline(transaction=True)
        p.get("k")
        with pytest.raises(redis.ResponseError, match="NOREPLICAS"):
            p.execute()
        with pytest.raises(redis.ResponseError, match="NOREPLICAS"):
            mc.eval("return redis.call('GET', KEYS[1])", 1, "k")
        # Commands that are not reads (PING, INFO: the sentinels' probes) are not held.
        t0 = time.monotonic()
        assert mc.ping() and info(m)["role"] == "master"
        assert time.monotonic() - t0 < 0.25
        mc.config_set("acked_reads", "no")
        assert mc.get("k") == b"unacked"  # the dirty read acked_reads prevents
        mc.config_set("acked_reads", "yes")
    finally:
        r.proc.send_signal(signal.SIGCONT)
    wait_synced(m, r)
    # Once the replica has it, the read answers at once.
    wait_until(lambda: mc.get("k") == b"unacked", 10, what="read after the replica caught up")
    t0 = time.monotonic()
    assert mc.get("k") == b"unacked"
    assert time.monotonic() - t0 < 0.25


def test_acked_reads_refused_while_fenced(cluster):
    m = cluster.node("master", args=["--min_replica_acks", "1", "--replica_ack_timeout_ms", "300",
                                      "--fence_lease_ms", "500", "--acked_reads", "yes"])
    r = start_replica(cluster, m)
    mc = m.client()
    wait_until(lambda: mc.set("k", "1"), 15, what="semi-sync write acknowledged")
    r.stop()
    # No replica and no sentinel heard for fence_lease_ms: reads refused too.
    wait_until(lambda: _read_refused(mc), 10, what="fenced master refuses reads")
    # redis-py turns -READONLY into ReadOnlyError, without the code.
    with pytest.raises(redis.ReadOnlyError, match="^Reads refused: this master lost its lease"):
        mc.get("k")
    assert mc.ping()


def _read_refused(c):
    try:
        c.get("k")
        return False
    except redis.ResponseError as e:
        return str(e).startswith("Reads refused")
