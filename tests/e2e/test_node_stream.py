"""Streams on strata-node: seeded differential runs of the "stream" family
(diff_stream.py) against redis-server in RESP2 and RESP3 — entries, trims,
XSETID, consumer groups with their PELs, claims and XINFO — blocking
XREAD/XREADGROUP (wake order, timeouts, a destroyed group), and a big
stream (STRATA_STREAM_BIG entries, default 200,000; STRATA_STREAM_PEL
pending entries) checked for seeks, O(1) DEL and the space the GC returns.

Seeds are printed; STRATA_SEED=N replays a run, STRATA_DIFF_COUNT scales it.
"""
import os
import time

import pytest

import diff_stream  # noqa: F401  (registers the "stream" generators)
from difftest import BASE_SEED, Error, RespConn, n, run_diff, wait_blocked
from harness import wait_until


@pytest.mark.parametrize("proto", [2, 3])
def test_stream_diff(pair, proto):
    node, ref = pair
    assert run_diff(node, ref, BASE_SEED + proto, n(5000), families=["stream"], proto=proto)[1] == n(5000)


@pytest.mark.parametrize("offset", [10, 11])
def test_stream_diff_more_seeds(pair, offset):
    node, ref = pair
    run_diff(node, ref, BASE_SEED + offset, n(3000), families=["stream"], proto=2 + offset % 2)


# --- blocking reads ------------------------------------------------------------

def on_both(pair, scenario):
    """Run scenario(port) on strata-node and on redis-server: the replies
    (a list) must be identical.  Returns them."""
    node, ref = pair
    got = [scenario(node.port), scenario(ref.port)]
    assert got[0] == got[1], f"strata {got[0]!r:.800}\nreference {got[1]!r:.800}"
    return got[0]


def raw(reply):
    return reply[0] if isinstance(reply, tuple) else reply


@pytest.mark.parametrize("proto", [2, 3])
def test_blocked_xread_wakes_in_order_and_times_out(pair, proto):
    def scenario(port):
        ctl = RespConn("127.0.0.1", port, proto=proto)
        ctl.call(b"FLUSHALL")
        ws = [RespConn("127.0.0.1", port, proto=proto) for _ in range(4)]
        out = []
        # "$" means after the last ID at the time of the call
        ctl.call(b"XADD", b"{s}q", b"1-1", b"old", b"x")
        ws[0].send([b"XREAD", b"BLOCK", 0, b"STREAMS", b"{s}p", b"{s}q", b"$", b"$"])
        wait_blocked(ctl, 1)
        ws[1].send([b"XREAD", b"COUNT", 1, b"BLOCK", 0, b"STREAMS", b"{s}q", b"0"])  # served at once
        out.append(ws[1].read())
        ws[1].send([b"XREAD", b"COUNT", 1, b"BLOCK", 0, b"STREAMS", b"{s}q", b"1-1"])
        wait_blocked(ctl, 2)
        ws[2].send([b"XREAD", b"BLOCK", 0, b"STREAMS", b"{s}q", b"5-0"])
        wait_blocked(ctl, 3)
        # a write that is not a stream does not wake XREAD
        ctl.call(b"SET", b"{s}p", b"string")
        time.sleep(0.05)
        out.append(ctl.call(b"DEL", b"{s}p"))
        # one XADD wakes the first two (in arrival order); the third waits for > 5-0
        out.append(ctl.call(b"XADD", b"{s}q", b"2-1", b"a", b"1", b"b", b"2"))
        out.append(raw(ws[0].read()))
        out.append(raw(ws[1].read()))
        wait_blocked(ctl, 1)
        out.append(ctl.call(b"XADD", b"{s}q", b"6-0", b"c", b"3"))
        out.append(raw(ws[2].read()))
        # timeouts: a null reply after the delay, BLOCK errors
        t0 = time.monotonic()
        out.append(ws[3].call(b"XREAD", b"BLOCK", 150, b"STREAMS", b"{s}q", b"$"))
        assert time.monotonic() - t0 >= 0.14
        for args in ([b"XREAD", b"BLOCK", b"-1", b"STREAMS", b"{s}q", b"$"],
                     [b"XREAD", b"BLOCK", b"1.5", b"STREAMS", b"{s}q", b"$"],
                     [b"XREAD", b"BLOCK", b"10", b"STREAMS", b"{s}q"]):
            out.append(ws[3].call(*args))
        # inside MULTI nothing blocks
        ctl.call(b"MULTI")
        ctl.call(b"XREAD", b"BLOCK", 0, b"STREAMS", b"{s}q", b"$")
        out.append(ctl.call(b"EXEC"))
        for c in ws + [ctl]:
            c.close()
        return out

    out = on_both(pair, scenario)
    assert out[-1] == [None]


@pytest.mark.parametrize("proto", [2, 3])
def test_blocked_xreadgroup(pair, proto):
    def scenario(port):
        ctl = RespConn("127.0.0.1", port, proto=proto)
        ctl.call(b"FLUSHALL")
        ws = [RespConn("127.0.0.1", port, proto=proto) for _ in range(3)]
        out = [ctl.call(b"XGROUP", b"CREATE", b"{s}q", b"g", b"$", b"MKSTREAM")]
        for i, w in enumerate(ws[:2]):
            w.send([b"XREADGROUP", b"GROUP", b"g", b"c%d" % i, b"BLOCK", 0, b"STREAMS", b"{s}q", b">"])
            wait_blocked(ctl, i + 1)
        # two entries in one write: the first waiter takes both (no COUNT),
        # the second keeps waiting for entries after the group's new last ID
        out.append(ctl.call(b"MULTI"))
        ctl.call(b"XADD", b"{s}q", b"1-1", b"a", b"1")
        ctl.call(b"XADD", b"{s}q", b"1-2", b"b", b"2")
        out.append(ctl.call(b"EXEC"))
        out.append(raw(ws[0].read()))
        wait_blocked(ctl, 1)
        out.append(ctl.call(b"XADD", b"{s}q", b"2-1", b"c", b"3"))
        out.append(raw(ws[1].read()))
        out.append(ctl.call(b"XPENDING", b"{s}q", b"g"))
        # NOACK waiter: served, nothing pending
        ws[2].send([b"XREADGROUP", b"GROUP", b"g", b"c2", b"BLOCK", 0, b"NOACK", b"STREAMS", b"{s}q", b">"])
        wait_blocked(ctl, 1)
        out.append(ctl.call(b"XADD", b"{s}q", b"3-1", b"d", b"4"))
        out.append(raw(ws[2].read()))
        out.append(ctl.call(b"XPENDING", b"{s}q", b"g"))
        # the group goes away under a waiter, then the key
        ws[0].send([b"XREADGROUP", b"GROUP", b"g", b"c0", b"BLOCK", 0, b"STREAMS", b"{s}q", b">"])
        wait_blocked(ctl, 1)
        out.append(ctl.call(b"XGROUP", b"DESTROY", b"{s}q", b"g"))
        out.append(raw(ws[0].read()))
        out.append(ctl.call(b"XGROUP", b"CREATE", b"{s}q", b"g", b"$"))
        ws[0].send([b"XREADGROUP", b"GROUP", b"g", b"c0", b"BLOCK", 0, b"STREAMS", b"{s}q", b">"])
        wait_blocked(ctl, 1)
        out.append(ctl.call(b"DEL", b"{s}q"))
        out.append(raw(ws[0].read()))
        # and a key that becomes another type
        out.append(ctl.call(b"XGROUP", b"CREATE", b"{s}q", b"g", b"$", b"MKSTREAM"))
        ws[0].send([b"XREADGROUP", b"GROUP", b"g", b"c0", b"BLOCK", 0, b"STREAMS", b"{s}q", b">"])
        wait_blocked(ctl, 1)
        out.append(ctl.call(b"SET", b"{s}q", b"x"))
        out.append(raw(ws[0].read()))
        # timeout, and the errors of a missing group
        out.append(ctl.call(b"DEL", b"{s}q"))
        out.append(ctl.call(b"XGROUP", b"CREATE", b"{s}q", b"g", b"$", b"MKSTREAM"))
        t0 = time.monotonic()
        out.append(ws[1].call(b"XREADGROUP", b"GROUP", b"g", b"c1", b"BLOCK", 100, b"STREAMS", b"{s}q", b">"))
        assert time.monotonic() - t0 >= 0.09
        out.append(ws[1].call(b"XREADGROUP", b"GROUP", b"nog", b"c1", b"BLOCK", 100, b"STREAMS", b"{s}q", b">"))
        out.append(ctl.call(b"XINFO", b"CONSUMERS", b"{s}q", b"g"))  # a timed-out read creates no consumer
        for c in ws + [ctl]:
            c.close()
        return out

    out = on_both(pair, scenario)
    assert isinstance(out[-2], Error) and out[-2].startswith(b"NOGROUP")


# --- a big stream ------------------------------------------------------------------

BIG = int(os.environ.get("STRATA_STREAM_BIG", "200000"))
PEL = int(os.environ.get("STRATA_STREAM_PEL", str(min(BIG, 50000))))
BATCH = 1000


def du(path):
    import subprocess
    return int(subprocess.check_output(["du", "-sb", path]).split()[0])


def pipeline(c, cmds):
    for i in range(0, len(cmds), BATCH):
        chunk = cmds[i:i + BATCH]
        c.send_raw(b"".join(RespConn.encode(a) for a in chunk))
        for _ in chunk:
            r = c.read()
            assert not isinstance(r, Error), r


def test_big_stream_seeks_pel_and_constant_time_delete(cluster):
    """STRATA_STREAM_BIG entries (200,000; 10M on demand) and a PEL of
    STRATA_STREAM_PEL (50,000; 1M on demand): reads at any position, PEL
    queries and claims take about as long as on a tiny stream; DEL is
    immediate and the GC gives the disk space back."""
    node = cluster.node(args=["--fsync", "no", "--wal-retention-bytes", "1000000"])
    c = RespConn("127.0.0.1", node.port, timeout=300)
    data_dir = os.path.join(node.dir, "data")
    t0 = time.monotonic()
    pad = b"x" * 64
    for lo in range(0, BIG, 100 * BATCH):
        pipeline(c, [[b"XADD", b"big", b"%d-1" % (i + 1), b"f", b"%d" % i, b"pad", pad]
                     for i in range(lo, min(BIG, lo + 100 * BATCH))])
    assert c.call(b"XLEN", b"big") == BIG
    c.call(b"XGROUP", b"CREATE", b"big", b"g", b"0")
    left = PEL
    while left:
        n = min(left, 10000)
        c.call(b"XREADGROUP", b"GROUP", b"g", b"c%d" % (left % 3), b"COUNT", n, b"STREAMS", b"big", b">")
        left -= n
    print(f"built {BIG} entries and a PEL of {PEL} in {time.monotonic() - t0:.1f}s")
    assert c.call(b"XPENDING", b"big", b"g")[0] == PEL

    def timed(*args):
        t = time.perf_counter()
        r = c.call(*args)
        return r, time.perf_counter() - t

    mid, last = BIG // 2, BIG
    checks = {
        "XRANGE middle": ([b"XRANGE", b"big", b"%d" % mid, b"+", b"COUNT", 3],
                          lambda r: [e[0] for e in r] == [b"%d-1" % mid, b"%d-1" % (mid + 1), b"%d-1" % (mid + 2)]),
        "XREVRANGE end": ([b"XREVRANGE", b"big", b"+", b"-", b"COUNT", 1], lambda r: r[0][0] == b"%d-1" % last),
        "XREAD near end": ([b"XREAD", b"COUNT", 5, b"STREAMS", b"big", b"%d-1" % (last - 2)],
                           lambda r: len(r[0][1]) == 2),
        "XPENDING summary": ([b"XPENDING", b"big", b"g"], lambda r: r[0] == PEL and r[1] == b"1-1"),
        "XPENDING window": ([b"XPENDING", b"big", b"g", b"%d" % (PEL // 2), b"+", 2],
                            lambda r: len(r) == 2 and r[0][0] == b"%d-1" % (PEL // 2)),
        "XINFO STREAM": ([b"XINFO", b"STREAM", b"big"], lambda r: r[1] == BIG),
        "XINFO GROUPS": ([b"XINFO", b"GROUPS", b"big"], lambda r: r[0][5] == PEL),
        "XACK middle": ([b"XACK", b"big", b"g", b"%d-1" % (PEL // 2)], lambda r: r == 1),
        "XCLAIM middle": ([b"XCLAIM", b"big", b"g", b"other", 0, b"%d-1" % (PEL // 2 + 1), b"JUSTID"],
                          lambda r: r == [b"%d-1" % (PEL // 2 + 1)]),
        "XAUTOCLAIM from middle": ([b"XAUTOCLAIM", b"big", b"g", b"other", 0, b"%d" % (PEL // 3), b"COUNT", 5, b"JUSTID"],
                                   lambda r: len(r[1]) == 5),
        "XREADGROUP history": ([b"XREADGROUP", b"GROUP", b"g", b"other", b"COUNT", 2, b"STREAMS", b"big", b"%d" % (PEL // 3)],
                               lambda r: len(r[0][1]) == 2),
        "XDEL middle": ([b"XDEL", b"big", b"%d-1" % mid], lambda r: r == 1),
        "XADD": ([b"XADD", b"big", b"*", b"f", b"v"], lambda r: isinstance(r, bytes)),
    }
    times = {}
    for name, (args, ok) in checks.items():
        r, dt = timed(*args)
        assert ok(r), f"{name}: {r!r:.300}"
        times[name] = dt
    print("times (ms):", {k: round(v * 1000, 2) for k, v in times.items()})
    # seeks, not walks: generous bounds for a shared CPU (a walk of the
    # stream or of the PEL would take seconds at these sizes)
    slow = {k: v for k, v in times.items() if v > 0.25}
    assert not slow, f"slow operations: {slow}"

    time.sleep(1)
    before = du(data_dir)
    r, dt = timed(b"DEL", b"big")
    print(f"DEL of {BIG} entries took {dt * 1000:.2f} ms; disk {before} bytes")
    assert r == 1 and dt < 0.25
    assert c.call(b"EXISTS", b"big") == 0
    assert c.call(b"XADD", b"big", b"1-1", b"f", b"new") == b"1-1"
    assert c.call(b"XLEN", b"big") == 1
    assert c.call(b"XINFO", b"GROUPS", b"big") == []

    def gc_pending():
        info = c.call(b"INFO", b"persistence").decode()
        return int(info.split("gc_pending_collections:")[1].split()[0])

    wait_until(lambda: gc_pending() == 0, timeout=300, interval=0.2, what="the GC to drain")
    wait_until(lambda: du(data_dir) < before * 0.3, timeout=180, interval=0.5,
               what=f"the data directory to shrink below 30% of {before} bytes")
    print(f"disk {before} -> {du(data_dir)} bytes after the GC")
    assert c.call(b"XRANGE", b"big", b"-", b"+") == [[b"1-1", [b"f", b"new"]]]
    c.close()


def test_stream_keyspace_events(pair):
    """Every stream command publishes Redis's events, in Redis's order
    (KEA; "new" included with n)."""
    def scenario(port):
        c = RespConn("127.0.0.1", port)
        c.call(b"FLUSHALL")
        c.call(b"CONFIG", b"SET", b"notify-keyspace-events", b"KEAn")
        sub = RespConn("127.0.0.1", port)
        sub.call(b"PSUBSCRIBE", b"__keyevent@0__:*")
        sub.call(b"SUBSCRIBE", b"end")
        for args in ([b"XADD", b"s", b"1-1", b"a", b"1"], [b"XADD", b"s", b"MAXLEN", b"1", b"2-1", b"a", b"1"],
                     [b"XADD", b"s", b"3-1", b"a", b"1"], [b"XDEL", b"s", b"3-1"], [b"XDEL", b"s", b"9-9"],
                     [b"XTRIM", b"s", b"MAXLEN", b"0"], [b"XTRIM", b"s", b"MAXLEN", b"0"],
                     [b"XSETID", b"s", b"5-5"], [b"XGROUP", b"CREATE", b"s", b"g", b"$"],
                     [b"XGROUP", b"CREATE", b"t", b"g", b"$", b"MKSTREAM"],
                     [b"XGROUP", b"CREATECONSUMER", b"s", b"g", b"c"], [b"XGROUP", b"CREATECONSUMER", b"s", b"g", b"c"],
                     [b"XADD", b"s", b"6-1", b"a", b"1"],
                     [b"XREADGROUP", b"GROUP", b"g", b"d", b"STREAMS", b"s", b">"],
                     [b"XCLAIM", b"s", b"g", b"e", b"0", b"6-1"], [b"XAUTOCLAIM", b"s", b"g", b"f", b"0", b"0"],
                     [b"XACK", b"s", b"g", b"6-1"], [b"XGROUP", b"SETID", b"s", b"g", b"0"],
                     [b"XGROUP", b"DELCONSUMER", b"s", b"g", b"c"], [b"XGROUP", b"DESTROY", b"s", b"g"],
                     [b"COPY", b"s", b"s2"], [b"RENAME", b"s2", b"s3"], [b"EXPIRE", b"s3", b"100"],
                     [b"DEL", b"s3"], [b"XADD", b"n", b"NOMKSTREAM", b"1-1", b"a", b"1"]):
            c.call(*args)
        c.call(b"PUBLISH", b"end", b"x")
        out = []
        while True:
            m = sub.read()[1]
            if m[0] == b"message":
                break
            out.append((m[2], m[3]))
        c.close()
        sub.close()
        return out

    out = on_both(pair, scenario)
    assert (b"__keyevent@0__:xgroup-createconsumer", b"s") in out


def test_stream_replication_and_full_sync(cluster):
    """Streams replicate through the store: a replica that syncs in full
    (attached after the writes) and one that follows the log both end up
    with the master's entries, groups, PELs and consumers."""
    master = cluster.node("master")
    m = RespConn("127.0.0.1", master.port)
    m.call(b"XADD", b"s", b"1-1", b"a", b"1")
    m.call(b"XADD", b"s", b"2-1", b"b", b"2")
    m.call(b"XGROUP", b"CREATE", b"s", b"g", b"0")
    m.call(b"XREADGROUP", b"GROUP", b"g", b"alice", b"COUNT", 1, b"STREAMS", b"s", b">")
    full = cluster.node("full", args=["--replicaof", f"127.0.0.1:{master.port}"])
    live = cluster.node("live", args=["--replicaof", f"127.0.0.1:{master.port}"])
    lc = RespConn("127.0.0.1", live.port)
    wait_until(lambda: lc.call(b"XLEN", b"s") == 2, what="the replica to sync")
    m.call(b"XADD", b"s", b"3-1", b"c", b"3")
    m.call(b"XREADGROUP", b"GROUP", b"g", b"bob", b"STREAMS", b"s", b">")
    m.call(b"XCLAIM", b"s", b"g", b"bob", 0, b"1-1")
    m.call(b"XDEL", b"s", b"2-1")
    m.call(b"XADD", b"t", b"MAXLEN", 1, b"1-1", b"x", b"y")
    want = m.call(b"XINFO", b"STREAM", b"s", b"FULL")
    for node in (full, live):
        c = RespConn("127.0.0.1", node.port)
        wait_until(lambda: c.call(b"XINFO", b"STREAM", b"s", b"FULL") == want, what="the replica to catch up")
        assert c.call(b"XRANGE", b"t", b"-", b"+") == [[b"1-1", [b"x", b"y"]]]
        assert isinstance(c.call(b"XADD", b"s", b"9-9", b"a", b"b"), Error)  # read-only
        c.close()
    m.close()
    lc.close()


def test_stream_watch(pair):
    """WATCH fails after a stream write (XADD, XDEL, XTRIM that remove
    entries) and holds through reads and writes that change nothing, and
    through XREADGROUP, as in Redis."""
    def scenario(port):
        a, b = RespConn("127.0.0.1", port), RespConn("127.0.0.1", port)
        a.call(b"FLUSHALL")
        for args in ([b"XADD", b"s", b"1-1", b"a", b"1"], [b"XADD", b"s", b"2-1", b"a", b"1"],
                     [b"XGROUP", b"CREATE", b"s", b"g", b"0"]):
            a.call(*args)
        out = []
        for args in ([b"XADD", b"s", b"3-1", b"a", b"1"],
                     [b"XREADGROUP", b"GROUP", b"g", b"c", b"COUNT", 1, b"STREAMS", b"s", b">"],
                     [b"XREADGROUP", b"GROUP", b"g", b"c", b"STREAMS", b"s", b"0"],
                     [b"XACK", b"s", b"g", b"9-9"], [b"XCLAIM", b"s", b"g", b"d", 0, b"9-9"],
                     [b"XDEL", b"s", b"9-9"], [b"XDEL", b"s", b"3-1"], [b"XTRIM", b"s", b"MAXLEN", 100],
                     [b"XTRIM", b"s", b"MAXLEN", 1], [b"XINFO", b"STREAM", b"s"], [b"XRANGE", b"s", b"-", b"+"]):
            a.call(b"WATCH", b"s")
            b.call(*args)
            a.call(b"MULTI")
            a.call(b"PING")
            out.append(a.call(b"EXEC"))
        a.close()
        b.close()
        return out

    out = on_both(pair, scenario)
    assert out[0] is None and out[1] == ["PONG"]


def test_xclaim_idle_extremes_and_empty_consumer(pair):
    """XCLAIM's IDLE at the ends of the 64-bit range (Redis computes
    now - IDLE in wrapping arithmetic, then takes a bogus time as now) and
    claims by a consumer named "" (XAUTOCLAIM, XCLAIM): Redis's replies,
    and no undefined behaviour in the node (the sanitizers watch its log)."""
    def scenario(port):
        a = RespConn("127.0.0.1", port)
        a.call(b"FLUSHALL")
        a.call(b"XADD", b"s", b"1-1", b"f", b"v")
        a.call(b"XADD", b"s", b"2-1", b"f", b"v")
        a.call(b"XGROUP", b"CREATE", b"s", b"g", b"0")
        out = [a.call(b"XREADGROUP", b"GROUP", b"g", b"", b"STREAMS", b"s", b">")]
        for idle in (b"-9223372036854775808", b"9223372036854775807", b"-1", b"0"):
            out.append(a.call(b"XCLAIM", b"s", b"g", b"b", 0, b"1-1", b"IDLE", idle, b"JUSTID"))
            rows = raw(a.call(b"XPENDING", b"s", b"g", b"-", b"+", 10))
            out.append([(r[0], r[1], r[3]) for r in rows])
            out.append(raw(rows[0][2]) < 60000)   # the bogus times became "now"
        out.append(a.call(b"XAUTOCLAIM", b"s", b"g", b"", 0, b"0", b"JUSTID"))
        out.append(a.call(b"XAUTOCLAIM", b"s", b"g", b"", 0, b"0", b"JUSTID"))   # "" claims from ""
        out.append(a.call(b"XCLAIM", b"s", b"g", b"", 0, b"1-1", b"2-1", b"JUSTID"))
        out.append([c[:4] for c in raw(a.call(b"XINFO", b"CONSUMERS", b"s", b"g"))])   # name, pending
        return out
    on_both(pair, scenario)
