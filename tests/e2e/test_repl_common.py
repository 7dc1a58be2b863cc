"""Helpers shared by the replication tests (test_repl_*.py), and the tests
of the role commands themselves: ROLE, REPLICAOF/SLAVEOF replies, READONLY,
WAIT, INFO replication fields.

Comparisons are of two kinds:
  logical_dump(): every key with its type, value and absolute expiry
                  (PEXPIRETIME), read through the Redis protocol;
  physical_dump(): the LevelDB entries of a node, fetched with strata-dump
                   (the same snapshot a full sync sends), parsed here, so a
                   replica can be checked byte-identical to its master.
"""
import os
import struct
import subprocess
import threading
import time

import pytest
import redis

from harness import binary, wait_until


# ---------------------------------------------------------------- helpers

def info(node_or_client, section="replication"):
    c = node_or_client.client() if hasattr(node_or_client, "client") else node_or_client
    return c.info(section)


def lsn(node):
    return int(info(node)["lsn"])


def wait_synced(master, replica, timeout=30):
    """Wait until the replica has applied everything the master committed."""
    def ok():
        m = lsn(master)
        r = info(replica)
        return r.get("master_link_status") == "up" and int(r["lsn"]) == m and lsn(master) == m
    wait_until(ok, timeout, interval=0.05, what="replica caught up with the master")


def wait_acked(master, timeout=10):
    """Wait until every replica's ack reached the master's lsn (acks are
    lazy, a few ms after the replica applied, unless a writer waits)."""
    def ok():
        i = info(master)
        n = i["connected_slaves"]
        return n and all(i[f"slave{k}"]["acked_lsn"] == i["lsn"] for k in range(n))
    wait_until(ok, timeout, interval=0.02, what="replica acks")


def start_replica(cluster, master, name="replica", args=(), start=True):
    return cluster.node(name, args=["--replicaof", f"127.0.0.1:{master.port}"] + list(args), start=start)


def logical_dump(c):
    """{key: (type, value, pexpiretime)} for every key of a node."""
    out = {}
    for k in c.scan_iter(count=500):
        t = c.type(k).decode()
        if t == "string":
            v = c.get(k)
        elif t == "hash":
            v = sorted(c.hgetall(k).items())
        elif t == "set":
            v = sorted(c.smembers(k))
        elif t == "zset":
            v = c.zrange(k, 0, -1, withscores=True)
        elif t == "list":
            v = c.lrange(k, 0, -1)
        elif t == "none":  # expired between SCAN and TYPE
            continue
        else:
            raise AssertionError(f"unexpected type {t} for {k!r}")
        out[k] = (t, v, c.pexpiretime(k))
    return out


def read_dump_file(path):
    """(position dict, {key: value}) of a strata-dump file (format: node/repl/dump.h)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:12] == b"STRATADUMP01", "bad magic"
    epoch, last_epoch, last_lsn, crc, _first, _bytes = struct.unpack(">QQQIQQ", data[12:56])
    off = 60
    entries = {}
    while True:
        (n,) = struct.unpack(">I", data[off:off + 4])
        off += 4
        if n == 0:
            (nkeys,) = struct.unpack(">Q", data[off:off + 8])
            break
        chunk = data[off:off + n]
        off += n
        (count,) = struct.unpack(">I", chunk[:4])
        i = 8
        for _ in range(count):
            (kl,) = struct.unpack(">I", chunk[i:i + 4])
            k = chunk[i + 4:i + 4 + kl]
            i += 4 + kl
            (vl,) = struct.unpack(">I", chunk[i:i + 4])
            entries[k] = chunk[i + 4:i + 4 + vl]
            i += 4 + vl
    assert nkeys == len(entries)
    return {"epoch": epoch, "last_epoch": last_epoch, "lsn": last_lsn, "crc": crc}, entries


def strata_dump(cluster, node, name):
    path = cluster.path(name + ".dump")
    r = subprocess.run([binary("strata-dump"), "--port", str(node.port), path],
                       capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    return path


def physical_dump(cluster, node, name):
    return read_dump_file(strata_dump(cluster, node, name))


def assert_identical(cluster, master, replica):
    """Same position, same LevelDB entries, same logical content."""
    # Background tasks (expiry, GC after FLUSHALL/DEL) keep logging
    # records: dump both at the same position, retrying while they move.
    for _ in range(50):
        wait_synced(master, replica)
        mpos, ment = physical_dump(cluster, master, "m-%d" % time.monotonic_ns())
        rpos, rent = physical_dump(cluster, replica, "r-%d" % time.monotonic_ns())
        if mpos["lsn"] == rpos["lsn"]:
            break
        time.sleep(0.1)
    assert (mpos["lsn"], mpos["last_epoch"], mpos["crc"]) == (rpos["lsn"], rpos["last_epoch"], rpos["crc"])
    assert ment.keys() == rent.keys(), (
        f"only on master: {sorted(ment.keys() - rent.keys())[:5]}, "
        f"only on replica: {sorted(rent.keys() - ment.keys())[:5]}")
    diff = [k for k in ment if ment[k] != rent[k]]
    assert not diff, f"{len(diff)} entries differ, e.g. {diff[:5]}"
    assert logical_dump(master.client()) == logical_dump(replica.client())
    assert master.client().dbsize() == replica.client().dbsize()
    return ment


def fill_all_types(c, prefix, n=50, ttl_every=3):
    """Keys of every type the node supports, some with TTLs (ms precision)."""
    p = c.pipeline(transaction=False)
    for i in range(n):
        p.set(f"{prefix}:s:{i}", f"v{i}" * (i % 7 + 1))
        p.hset(f"{prefix}:h:{i}", mapping={f"f{j}": f"x{j}" for j in range(i % 5 + 1)})
        p.sadd(f"{prefix}:t:{i}", *[f"m{j}" for j in range(i % 4 + 1)])
        p.zadd(f"{prefix}:z:{i}", {f"e{j}": j * 1.5 - i for j in range(i % 6 + 1)})
        if i % ttl_every == 0:
            p.pexpire(f"{prefix}:s:{i}", 600000 + i)
            p.pexpire(f"{prefix}:h:{i}", 700000 + i)
            p.expire(f"{prefix}:z:{i}", 800 + i)
    p.execute()
    if list_supported(c):
        p = c.pipeline(transaction=False)
        for i in range(n):
            p.rpush(f"{prefix}:l:{i}", *[f"i{j}" for j in range(i % 5 + 1)])
            if i % ttl_every == 0:
                p.pexpire(f"{prefix}:l:{i}", 900000 + i)
        p.execute()


def list_supported(c):
    try:
        c.execute_command("LLEN", "__probe__")
        return True
    except redis.ResponseError:
        return False


class Writer:
    """Background SETs on a node until stopped (bounded in count and time).
    Remembers every key whose SET was acknowledged."""

    def __init__(self, port, prefix, limit=200000, seconds=60, pipeline=1):
        self.port, self.prefix, self.limit, self.seconds = port, prefix, limit, seconds
        self.pipeline = pipeline
        self.acked = []
        self.errors = 0
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        c = redis.Redis(port=self.port, socket_timeout=5)
        deadline = time.monotonic() + self.seconds
        i = 0
        while i < self.limit and not self.stop_flag.is_set() and time.monotonic() < deadline:
            try:
                if self.pipeline == 1:
                    c.set(f"{self.prefix}:{i}", str(i))
                    self.acked.append(i)
                    i += 1
                else:
                    p = c.pipeline(transaction=False)
                    for j in range(i, i + self.pipeline):
                        p.set(f"{self.prefix}:{j}", str(j))
                    p.execute()
                    self.acked.extend(range(i, i + self.pipeline))
                    i += self.pipeline
            except (redis.ConnectionError, redis.TimeoutError, ConnectionResetError):
                self.errors += 1
                return
            except redis.ResponseError:
                self.errors += 1
                i += self.pipeline

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stop_flag.set()
        self.thread.join(timeout=30)
        return self


# ---------------------------------------------------------------- tests

def test_role_and_replicaof_replies(cluster):
    m = cluster.node("master")
    r = start_replica(cluster, m)
    mc, rc = m.client(), r.client()
    mc.set("k", "v")
    wait_synced(m, r)
    wait_acked(m)
    role = mc.execute_command("ROLE")
    assert role[0] == b"master" and role[1] == lsn(m)
    assert role[2] == [[b"127.0.0.1", str(r.port).encode(), str(lsn(m)).encode()]]
    rrole = rc.execute_command("ROLE")
    assert rrole == [b"slave", b"127.0.0.1", m.port, b"connected", lsn(m)]
    # Redis's replies for the same master again, bad ports, read-only writes
    assert rc.execute_command("REPLICAOF", "127.0.0.1", str(m.port)) == b"OK Already connected to specified master"
    for bad in ("abc", "99999", "-1"):
        with pytest.raises(redis.ResponseError, match="^Invalid master port$"):
            rc.execute_command("REPLICAOF", "127.0.0.1", bad)
    with pytest.raises(redis.ReadOnlyError, match="You can't write against a read only replica."):
        rc.set("x", "1")
    with pytest.raises(redis.ResponseError, match="WAIT cannot be used with replica instances"):
        rc.execute_command("WAIT", "1", "0")
    assert rc.get("k") == b"v"  # replicas serve reads
    i = info(m)
    assert i["role"] == "master" and i["connected_slaves"] == 1
    s0 = i["slave0"]
    assert s0["ip"] == "127.0.0.1" and s0["port"] == r.port and s0["state"] == "online"
    assert s0["offset"] == lsn(m) and s0["acked_lsn"] == lsn(m) and s0["lag_records"] == 0
    assert i["epoch"] == 1 and i["master_repl_offset"] == lsn(m)
    ri = info(r)
    assert ri["role"] == "slave" and ri["master_port"] == m.port and ri["master_link_status"] == "up"
    assert ri["slave_repl_offset"] == lsn(m) and ri["master_sync_in_progress"] == 0
    # SLAVEOF NO ONE promotes with a new epoch; the node accepts writes.
    assert rc.execute_command("SLAVEOF", "NO", "ONE") in (True, b"OK")  # redis-py maps +OK
    assert info(r)["role"] == "master" and info(r)["epoch"] == 2
    rc.set("x", "1")
    assert rc.execute_command("ROLE")[0] == b"master"


def test_wait(cluster):
    m = cluster.node("master")
    mc = m.client()
    mc.set("a", "1")
    assert mc.execute_command("WAIT", "0", "0") == 0
    t0 = time.monotonic()
    assert mc.execute_command("WAIT", "1", "200") == 0  # no replica: times out
    assert time.monotonic() - t0 >= 0.19
    with pytest.raises(redis.ResponseError, match="^timeout is negative$"):
        mc.execute_command("WAIT", "1", "-1")
    with pytest.raises(redis.ResponseError, match="^timeout is not an integer or out of range$"):
        mc.execute_command("WAIT", "1", "x")
    r = start_replica(cluster, m)
    wait_synced(m, r)
    mc.set("b", "2")
    assert mc.execute_command("WAIT", "1", "0") == 1  # 0: wait as long as needed
    t0 = time.monotonic()
    assert mc.execute_command("WAIT", "2", "300") == 1
    assert time.monotonic() - t0 >= 0.29
    # A waiting client does not block others.
    other = m.client()
    done = []
    th = threading.Thread(target=lambda: done.append(m.client().execute_command("WAIT", "2", "1500")))
    th.start()
    time.sleep(0.1)
    assert other.set("c", "3") and other.get("c") == b"3"
    th.join()
    assert done == [1]
