#!/usr/bin/python3
"""A big stream on one strata-node (issue 16; not a pass/fail test).

Builds a stream of ENTRIES entries (explicit IDs 1-0 .. ENTRIES-0, one
field of 16 bytes) and a consumer group whose PEL holds the first PEL of
them (spread over 10 consumers), then times single commands at pipeline 1
(SAMPLES of each, at random places): XADD, XRANGE (COUNT 10), XREADGROUP
(COUNT 1, new entries), XACK, XPENDING (summary and extended, COUNT 10),
XCLAIM, XDEL; the same on a small stream (SMALL entries, PEL of SMALL/10)
for comparison, so "per operation O(log n)" shows as the ratio of the two.
Then DEL of the big stream (round trip), the GC's drain time, and the
data directory's size (du -sb) before the DEL and after the GC and
compaction.

Bounded in time: the load stops at LOAD_SECONDS (the report then says how
big the stream got), and every wait has a timeout.

  STRATA_BIN=$PWD/build-rel/bin /usr/bin/python3 tests/bench/bench_stream_big.py
  env: ENTRIES (10000000), PEL (1000000), SMALL (10000), SAMPLES (2000),
       LOAD_SECONDS (2400)"""
import os
import random
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
os.environ.setdefault("STRATA_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build-rel", "bin"))

from harness import Cluster, wait_until  # noqa: E402

ENTRIES = int(os.environ.get("ENTRIES", "10000000"))
PEL = int(os.environ.get("PEL", "1000000"))
SMALL = int(os.environ.get("SMALL", "10000"))
SAMPLES = int(os.environ.get("SAMPLES", "2000"))
LOAD_SECONDS = float(os.environ.get("LOAD_SECONDS", "2400"))
BATCH = 2000


def du(path):
    return int(subprocess.check_output(["du", "-sb", path]).split()[0])


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def load(port, key, n, deadline):
    """XADD key i-0 f <16 bytes> for i in 1..n over a raw socket, BATCH
    commands at a time; returns how many went in before the deadline."""
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    done = 0
    t0 = time.monotonic()
    last_print = t0
    while done < n and time.monotonic() < deadline:
        hi = min(n, done + BATCH)
        s.sendall(b"".join(resp("XADD", key, f"{i}-0", "f", f"value-{i:010d}") for i in range(done + 1, hi + 1)))
        want = 2 * (hi - done)   # a bulk reply: two lines
        buf = b""
        while buf.count(b"\r\n") < want:
            chunk = s.recv(1 << 20)
            if not chunk:
                raise RuntimeError("connection closed during the load")
            buf += chunk
            if buf.startswith(b"-") or b"\r\n-" in buf:
                raise RuntimeError(f"error during the load: {buf[:200]!r}")
        done = hi
        now = time.monotonic()
        if now - last_print > 30:
            print(f"  {key}: {done} entries, {done / (now - t0):.0f}/s", flush=True)
            last_print = now
    s.close()
    return done


def build_pel(c, key, n, consumers=10):
    c.execute_command("XGROUP", "CREATE", key, "g", "0")
    got, i = 0, 0
    while got < n:
        want = min(10000, n - got)
        r = c.execute_command("XREADGROUP", "GROUP", "g", f"c{i % consumers}", "COUNT", want, "STREAMS", key, ">")
        if not r:
            break
        got += len(r[0][1])
        i += 1
    return got


def gc_pending(c):
    for line in c.execute_command("INFO", "persistence").decode().splitlines():
        if line.startswith("gc_pending_collections:"):
            return int(line.split(":")[1])
    raise RuntimeError("no gc_pending_collections in INFO persistence")


def timed(c, ops):
    """Each op (a tuple of arguments) once at pipeline 1: latencies in us."""
    lat = []
    for args in ops:
        t = time.perf_counter()
        c.execute_command(*args)
        lat.append((time.perf_counter() - t) * 1e6)
    return lat


def stats(lat):
    lat = sorted(lat)
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]   # noqa: E731
    return pick(0.5), pick(0.99), lat[-1]


def measure(c, key, n, pel, rng):
    """Per-command latency on key (n entries, the first pel pending)."""
    ids = rng.sample(range(1, n + 1), min(n, 3 * SAMPLES))
    pend = rng.sample(range(1, pel + 1), min(pel, 2 * SAMPLES))
    ack, claim = pend[:len(pend) // 2], pend[len(pend) // 2:]
    rest = [i for i in ids if i > pel][:SAMPLES] or ids[:SAMPLES]
    out = {}
    out["XADD"] = timed(c, [("XADD", key, "*", "f", "new-value-000000") for _ in range(SAMPLES)])
    out["XRANGE"] = timed(c, [("XRANGE", key, f"{i}-0", "+", "COUNT", 10) for i in ids[:SAMPLES]])
    out["XREADGROUP"] = timed(c, [("XREADGROUP", "GROUP", "g", "reader", "COUNT", 1, "STREAMS", key, ">")
                                  for _ in range(SAMPLES)])
    out["XPENDING summary"] = timed(c, [("XPENDING", key, "g") for _ in range(min(SAMPLES, 200))])
    out["XPENDING ext"] = timed(c, [("XPENDING", key, "g", f"{i}-0", "+", 10) for i in claim])
    out["XCLAIM"] = timed(c, [("XCLAIM", key, "g", "claimer", 0, f"{i}-0") for i in claim])
    out["XACK"] = timed(c, [("XACK", key, "g", f"{i}-0") for i in ack])
    out["XDEL"] = timed(c, [("XDEL", key, f"{i}-0") for i in rest])
    return out


def main():
    rng = random.Random(16)
    cl = Cluster(prefix="strata-bench-stream-")
    try:
        node = cl.node(args=["--fsync", "no", "--wal-retention-bytes", "1000000"])
        c = node.client(socket_timeout=600)
        c.response_callbacks = {}   # replies as they come (XPENDING's extended form)
        data = os.path.join(node.dir, "data")
        deadline = time.monotonic() + LOAD_SECONDS

        t0 = time.monotonic()
        small = load(node.port, "small", SMALL, deadline)
        small_pel = build_pel(c, "small", SMALL // 10)
        t0 = time.monotonic()
        n = load(node.port, "big", ENTRIES, deadline)
        load_s = time.monotonic() - t0
        print(f"big: {n} entries in {load_s:.1f} s ({n / load_s:.0f} XADD/s, pipeline {BATCH})"
              + ("" if n == ENTRIES else f" -- stopped at LOAD_SECONDS={LOAD_SECONDS:.0f}, not {ENTRIES}"),
              flush=True)
        t0 = time.monotonic()
        pel = build_pel(c, "big", min(PEL, n))
        print(f"big: PEL of {pel} built in {time.monotonic() - t0:.1f} s (XREADGROUP COUNT 10000)", flush=True)
        assert c.execute_command("XLEN", "big") == n

        time.sleep(10)   # the load's compactions are background work: let most of it pass
        res_small = measure(c, "small", small, small_pel, rng)
        res_big = measure(c, "big", n, pel, rng)
        print(f"\nlatency at pipeline 1, us (p50 / p99 / max); small: {small} entries, PEL {small_pel}; "
              f"big: {n} entries, PEL {pel}; {SAMPLES} samples each (XPENDING summary: 200)")
        print(f"{'command':18} {'small p50':>10} {'p99':>8} {'max':>8}   {'big p50':>8} {'p99':>8} {'max':>8}"
              f"   {'p50 big/small':>13}")
        for op in res_small:
            a, b = stats(res_small[op]), stats(res_big[op])
            print(f"{op:18} {a[0]:10.0f} {a[1]:8.0f} {a[2]:8.0f}   {b[0]:8.0f} {b[1]:8.0f} {b[2]:8.0f}"
                  f"   {b[0] / a[0]:13.2f}")

        time.sleep(2)   # let the compactions of the load settle
        before = du(data)
        length = c.execute_command("XLEN", "big")
        t = time.perf_counter()
        assert c.execute_command("DEL", "big") == 1
        del_ms = (time.perf_counter() - t) * 1000
        print(f"\nDEL of the big stream ({length} entries, PEL {pel}): {del_ms:.3f} ms")
        assert c.execute_command("EXISTS", "big") == 0
        t = time.monotonic()
        wait_until(lambda: gc_pending(c) == 0, timeout=1800, interval=0.5,
                   what="the GC to drain")
        gc_s = time.monotonic() - t
        t = time.monotonic()
        try:
            wait_until(lambda: du(data) < before * 0.2, timeout=600, interval=1,
                       what="the data directory to shrink")
        except Exception as e:   # report what came back even if not all of it
            print(f"  ({e})")
        print(f"GC drained in {gc_s:.1f} s; disk (du -sb of the data directory) {before / 1e6:.1f} MB before "
              f"the DEL -> {du(data) / 1e6:.1f} MB {time.monotonic() - t:.1f} s after the drain")
        assert c.execute_command("XLEN", "small") > 0
    finally:
        cl.close()


if __name__ == "__main__":
    main()
