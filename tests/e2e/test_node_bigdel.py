"""Big collections: deletion is constant time, the GC reclaims the stale
subkeys in the background and the disk space comes back.

For each type, a collection of STRATA_BIG_N elements (1,000,000 by default)
is built with pipelined multi-element commands.  Then:
  - DEL returns promptly (the time is printed; no timing assertion: speed
    is measured by tests/bench), and the key reads as gone at once;
  - the same name can be reused at once, without any of the old elements;
  - INFO persistence's gc_pending_collections drops to 0;
  - the data directory shrinks below 20% of its size before the DEL (the
    reclaimed ranges are compacted on a background thread).
The node runs with a small replication-log retention so that the log of the
build does not dominate the disk usage being measured.
"""
import os
import subprocess
import time

import pytest

from harness import wait_until

N = int(os.environ.get("STRATA_BIG_N", "1000000"))
BATCH = 1000


def du(path):
    return int(subprocess.check_output(["du", "-sb", path]).split()[0])


def persistence(c):
    return c.info("persistence")


def build(c, kind, key, n):
    p = c.pipeline(transaction=False)
    for i in range(0, n, BATCH):
        hi = min(n, i + BATCH)
        if kind == "hash":
            args = []
            for j in range(i, hi):
                args += [f"field:{j}", f"value:{j}"]
            p.execute_command("HSET", key, *args)
        elif kind == "set":
            p.execute_command("SADD", key, *[f"member:{j}" for j in range(i, hi)])
        elif kind == "zset":
            args = []
            for j in range(i, hi):
                args += [j * 0.5, f"member:{j}"]
            p.execute_command("ZADD", key, *args)
        else:
            p.execute_command("RPUSH", key, *[f"element:{j}" for j in range(i, hi)])
        if (i // BATCH) % 20 == 19:
            p.execute()
    p.execute()


SIZE = {"hash": "HLEN", "set": "SCARD", "zset": "ZCARD", "list": "LLEN"}


def node_for_big_data(cluster):
    return cluster.node(args=["--fsync", "no", "--wal-retention-bytes", "1000000"])


@pytest.mark.parametrize("kind", ["hash", "set", "zset", "list"])
def test_big_collection_delete_and_reclaim(cluster, kind):
    node = node_for_big_data(cluster)
    c = node.client(socket_timeout=120)
    data_dir = os.path.join(node.dir, "data")
    c.set("bystander", "still here")

    t0 = time.monotonic()
    build(c, kind, "big", N)
    assert c.execute_command(SIZE[kind], "big") == N
    print(f"{kind}: built {N} elements in {time.monotonic() - t0:.1f}s")
    # let LevelDB settle its own compactions of the build before measuring
    time.sleep(1)
    before_du = du(data_dir)
    before_approx = persistence(c)["storage_disk_bytes"]

    t = time.perf_counter()
    assert c.delete("big") == 1
    del_ms = (time.perf_counter() - t) * 1000
    print(f"{kind}: DEL of {N} elements took {del_ms:.3f} ms (round trip)")
    assert c.exists("big") == 0
    assert c.execute_command(SIZE[kind], "big") == 0
    assert c.type("big") == b"none"
    assert persistence(c)["gc_pending_collections"] == 1

    # the name is reusable at once and shows none of the old elements
    build(c, kind, "big", 3)
    assert c.execute_command(SIZE[kind], "big") == 3

    t = time.monotonic()
    wait_until(lambda: persistence(c)["gc_pending_collections"] == 0, timeout=300,
               interval=0.2, what="the GC to drain")
    gc_s = time.monotonic() - t
    assert c.execute_command(SIZE[kind], "big") == 3
    assert c.get("bystander") == b"still here"

    t = time.monotonic()
    # D and Z ranges are compacted one after the other: wait for the end
    wait_until(lambda: du(data_dir) < before_du * 0.2, timeout=180, interval=0.5,
               what=f"the data directory to shrink below 20% of {before_du} bytes")
    after_du = du(data_dir)
    after_approx = persistence(c)["storage_disk_bytes"]
    print(f"{kind}: GC drained in {gc_s:.1f}s; disk {before_du} -> {after_du} bytes (du), "
          f"{before_approx} -> {after_approx} (storage_disk_bytes), "
          f"{time.monotonic() - t:.1f}s after the drain")
    c.close()


def test_other_constant_time_removals(cluster):
    """UNLINK, overwrite, RENAME over an existing key and expiry of big
    collections: each returns at once, and the GC queue drains."""
    node = node_for_big_data(cluster)
    c = node.client(socket_timeout=120)
    n = max(1000, N // 5)
    for k in ("u", "o", "r1", "r2", "e"):
        build(c, "hash", k, n)
    times = {}

    def timed(name, fn):
        t = time.perf_counter()
        r = fn()
        times[name] = (time.perf_counter() - t) * 1000
        return r

    assert timed("UNLINK", lambda: c.unlink("u")) == 1
    assert timed("SET over a hash", lambda: c.set("o", "now a string")) is True
    assert timed("RENAME over a hash", lambda: c.rename("r1", "r2")) is True
    assert timed("PEXPIRE 1", lambda: c.pexpire("e", 1)) is True
    print(f"{n}-field hashes, round trips in ms:", {k: round(v, 3) for k, v in times.items()})
    assert c.exists("u") == 0
    assert c.get("o") == b"now a string"
    assert c.exists("r1") == 0 and c.hlen("r2") == n
    wait_until(lambda: c.exists("e") == 0, timeout=5, what="expiry")
    wait_until(lambda: persistence(c)["gc_pending_collections"] == 0, timeout=300,
               interval=0.2, what="the GC to drain")
    assert c.hlen("r2") == n
    assert c.hget("r2", f"field:{n - 1}") == f"value:{n - 1}".encode()
    c.close()


def test_gc_survives_a_restart_mid_collection(cluster):
    """The GC's position is only an in-memory hint: after a restart in the
    middle of a collection it starts over and still drains the queue."""
    node = node_for_big_data(cluster)
    c = node.client(socket_timeout=120)
    n = max(1000, N // 5)
    build(c, "set", "s", n)
    c.delete("s")
    wait_until(lambda: persistence(c)["gc_pending_collections"] == 1, timeout=5, what="queue")
    node.stop()
    node.start()
    c = node.client(socket_timeout=120)
    wait_until(lambda: persistence(c)["gc_pending_collections"] == 0, timeout=300,
               interval=0.2, what="the GC to drain after a restart")
    assert c.scard("s") == 0
    c.close()
