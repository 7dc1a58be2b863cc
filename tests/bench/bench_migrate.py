#!/usr/bin/python3
"""Slot migration throughput on this machine (not a pass/fail test).

Two strata-node processes (release build: STRATA_BIN, default build/bin),
each a one-node group; g1 is loaded with KEYS strings of VALUE bytes and
one zset of ZSET members, then STRATA MIGRATE moves half of g1's slots to
g2 while a client writes to the moving slots.  Prints MB/s and keys/s of
the copy and of the whole job, the fence, and the longest write latency
the client saw (the switch pause as a client sees it).

  STRATA_BIN=$PWD/build/bin /usr/bin/python3 tests/bench/bench_migrate.py
  env: KEYS (200000), VALUE (200), ZSET (1000000), RATE (0 = no limit)"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
os.environ.setdefault("STRATA_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "bin"))

from harness import Cluster, wait_until  # noqa: E402
from proxy_util import key_slot  # noqa: E402

KEYS = int(os.environ.get("KEYS", "200000"))
VALUE = int(os.environ.get("VALUE", "200"))
ZSET = int(os.environ.get("ZSET", "1000000"))
RATE = os.environ.get("RATE", "0")


def status(c):
    j = c.execute_command("STRATA", "MIGRATE", "STATUS")[0]
    return {k.decode(): (v.decode() if isinstance(v, bytes) else v) for k, v in zip(j[0::2], j[1::2])}


def main():
    cl = Cluster(prefix="strata-bench-migrate-")
    try:
        s, t = cl.node("s"), cl.node("t")
        sc, tc = s.client(socket_timeout=60), t.client(socket_timeout=60)
        sc.execute_command("STRATA", "SETSLOTS", "g1", "1", "g1", "0-8191", "g2", "8192-16383")
        tc.execute_command("STRATA", "SETSLOTS", "g2", "1", "g1", "0-8191", "g2", "8192-16383")
        val = b"v" * VALUE
        t0 = time.time()
        i = n = 0
        p = sc.pipeline(transaction=False)
        while n < KEYS:
            k = f"key:{i}"
            i += 1
            if key_slot(k) > 8191:
                continue
            p.set(k, val)
            n += 1
            if n % 5000 == 0:
                p.execute()
        p.execute()
        zk = next(f"z{i}" for i in range(1000) if key_slot(f"z{i}") <= 4095)
        for off in range(0, ZSET, 20000):
            sc.zadd(zk, {f"member:{j}": j for j in range(off, min(ZSET, off + 20000))})
        print(f"loaded {KEYS} strings of {VALUE} B and a zset of {ZSET} in {time.time() - t0:.1f} s")
        wkeys = [f"w{i}" for i in range(5000) if key_slot(f"w{i}") <= 4095][:500]
        stop = threading.Event()
        lat = []

        def writer():
            import redis
            cs = {"g1": s.client(socket_timeout=30), "g2": t.client(socket_timeout=30)}
            g, j = "g1", 0
            while not stop.is_set():
                k = wkeys[j % len(wkeys)]
                j += 1
                a = time.perf_counter()
                try:
                    cs[g].set(k, j)
                except redis.ResponseError as e:
                    if not str(e).startswith("MOVED"):
                        raise
                    g = "g2"
                    cs[g].set(k, j)
                lat.append(time.perf_counter() - a)

        th = threading.Thread(target=writer)
        th.start()
        time.sleep(0.5)
        base = sorted(lat)
        t0 = time.time()
        sc.execute_command("STRATA", "MIGRATE", "START", "bench", "g2", "127.0.0.1", str(t.port),
                           "0-4095", "RATE", RATE)
        copy_end = None
        while True:
            j = status(sc)
            if copy_end is None and j["state"] not in ("prepare", "copy"):
                copy_end = time.time()
                copied = dict(j)
            if j["state"] in ("trim", "done", "failed", "aborted"):
                break
            time.sleep(0.01)
        switch = time.time()
        wait_until(lambda: status(sc)["state"] == "done", 600, what="trim")
        trim_end = time.time()
        time.sleep(0.3)
        stop.set()
        th.join()
        j = status(sc)
        ct = copy_end - t0
        jt = switch - t0
        mb = copied["bytes_copied"] / 1048576
        print(f"state {j['state']} {j['last_error']}")
        print(f"copy: {copied['keys_copied']} keys, {mb:.1f} MB in {ct:.2f} s: "
              f"{mb / ct:.1f} MB/s, {copied['keys_copied'] / ct:.0f} keys/s")
        print(f"job to switch: {jt:.2f} s ({j['bytes_copied'] / 1048576 / jt:.1f} MB/s incl. catch-up); "
              f"fence {j['fence_ms']} ms; trim {trim_end - switch:.2f} s")
        during = sorted(lat[len(base):])
        q = lambda v, p: v[min(len(v) - 1, int(p * len(v)))] * 1000  # noqa: E731
        print(f"writer on the moving slots: {len(during)} writes during the move; "
              f"p50 {q(during, .5):.2f} ms p99 {q(during, .99):.2f} ms max {during[-1] * 1000:.1f} ms "
              f"(before: p50 {q(base, .5):.2f} p99 {q(base, .99):.2f} ms)")
        print(f"dbsize s={sc.dbsize()} t={tc.dbsize()}")
        st = tc.info("commandstats").get("cmdstat_strata|import") or tc.info("commandstats").get("cmdstat_strata")
        if st:
            print(f"target: {st['calls']} STRATA IMPORT calls, {st['usec_per_call']:.0f} us per call "
                  f"(the target's loop is busy that long per chunk)")
        lat = tc.execute_command("LATENCY", "LATEST")
        print(f"target LATENCY LATEST: {lat}")
    finally:
        cl.close()


if __name__ == "__main__":
    main()
