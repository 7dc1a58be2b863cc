"""Online slot migration between two groups' masters (node/cluster/migrate.h).

Two real nodes, each a one-node group (g1 owns 0-8191, g2 8192-16383, set
with STRATA SETSLOTS as test_cluster_slots.py does), then with a replica
on the target.  STRATA MIGRATE START on g1's node moves 0-4095 to g2:

- every type moves (strings, a chunked string, hash, list, set, zset,
  stream, HLL, keys with TTLs, a big collection: 100k elements, or
  STRATA_MIGRATE_BIG=1000000), while a writer and a reader run against
  the right node (following -MOVED themselves); afterwards every
  acknowledged write is on the target, TTLs are kept, the source's copies
  are trimmed, DBSIZE is right on both and the target's replica has what
  the target has;
- SIGKILL of the source or of the target during the copy: every key is
  readable exactly once afterwards (on the source: the job aborted) and
  the job can be started again and finishes;
- multi-key commands spanning the moving range and another slot get
  -TRYAGAIN while the job runs; STATUS, PAUSE/RESUME, RATE, CANCEL,
  SLOTSINFO, INFO migration and /metrics show the job;
- failover of either group mid-copy or mid-fence (a replica promoted by
  REPLICAOF NO ONE): the move rolls back, keys and acknowledged writes are
  on the source, a new job finishes."""
import os
import threading
import time

import urllib.request

import pytest
import redis

from harness import free_port, wait_until
from proxy_util import key_slot

G1, G2 = "0-8191", "8192-16383"
MOVE = "0-4095"
BIG = int(os.environ.get("STRATA_MIGRATE_BIG", "100000"))


def in_move(k):
    return key_slot(k) <= 4095


def keys_in(lo, hi, n, prefix):
    out, i = [], 0
    while len(out) < n:
        k = f"{prefix}:{i}"
        if lo <= key_slot(k) <= hi:
            out.append(k)
        i += 1
    return out


def setup_pair(cluster, s_args=(), t_args=()):
    s = cluster.node("s", args=list(s_args))
    t = cluster.node("t", args=list(t_args))
    s.client().execute_command("STRATA", "SETSLOTS", "g1", "1", "g1", G1, "g2", G2)
    t.client().execute_command("STRATA", "SETSLOTS", "g2", "1", "g1", G1, "g2", G2)
    return s, t


def status(node):
    out = []
    for j in node.client(socket_timeout=5).execute_command("STRATA", "MIGRATE", "STATUS"):
        d = dict(zip(j[0::2], j[1::2]))
        out.append({k.decode(): (v.decode() if isinstance(v, bytes) else v) for k, v in d.items()})
    return out


def export_job(node):
    return next(j for j in status(node) if j["role"] == "export")


def start(s, t, job="j1", ranges=MOVE, *extra):
    return s.client().execute_command("STRATA", "MIGRATE", "START", job, "g2", "127.0.0.1",
                                      str(t.port), ranges, *extra)


def wait_state(node, states, timeout=60):
    def done():
        j = export_job(node)
        if j["state"] in ("failed",) and "failed" not in states:
            raise AssertionError(f"job failed: {j}")
        return j["state"] in states
    wait_until(done, timeout, interval=0.05, what=f"export job in {states}")
    return export_job(node)


class Router:
    """A client that follows -MOVED between the two nodes, as the proxy does."""

    def __init__(self, s, t):
        self.c = {"g1": s.client(socket_timeout=20), "g2": t.client(socket_timeout=20)}
        self.owner = {}
        self.moved = 0

    def do(self, key, *cmd):
        g = self.owner.get(key_slot(key), "g1" if key_slot(key) <= 8191 else "g2")
        for _ in range(5):
            try:
                return self.c[g].execute_command(*cmd)
            except redis.ResponseError as e:
                if not str(e).startswith("MOVED"):
                    raise
                g = str(e).split(" ")[2].split(":")[0]
                self.owner[key_slot(key)] = g
                self.moved += 1
        raise AssertionError("MOVED loop")


def load_every_type(c, big):
    """Keys of every type in the moving range and outside it; returns the
    expected contents {key: (type, value)} of what it wrote."""
    exp = {}
    p = c.pipeline(transaction=False)
    for k in keys_in(0, 8191, 400, "str"):
        p.set(k, "v-" + k)
        exp[k] = ("string", b"v-" + k.encode())
    for k in keys_in(0, 8191, 40, "ttl"):
        p.set(k, "t", px=3_600_000)
        exp[k] = ("string", b"t")
    bigs = keys_in(0, 4095, 1, "bigstr")[0]
    p.set(bigs, b"x" * 300_000)
    exp[bigs] = ("string", b"x" * 300_000)
    for k in keys_in(0, 8191, 30, "hash"):
        p.hset(k, mapping={f"f{i}": f"v{i}" for i in range(20)})
        exp[k] = ("hash", {f"f{i}".encode(): f"v{i}".encode() for i in range(20)})
    for k in keys_in(0, 8191, 30, "list"):
        p.rpush(k, *[f"e{i}" for i in range(15)])
        exp[k] = ("list", [f"e{i}".encode() for i in range(15)])
    for k in keys_in(0, 8191, 30, "set"):
        p.sadd(k, *[f"m{i}" for i in range(10)])
        exp[k] = ("set", {f"m{i}".encode() for i in range(10)})
    for k in keys_in(0, 8191, 30, "zset"):
        p.zadd(k, {f"z{i}": i * 1.5 for i in range(12)})
        exp[k] = ("zset", [(f"z{i}".encode(), i * 1.5) for i in range(12)])
    for k in keys_in(0, 8191, 10, "stream"):
        for i in range(5):
            p.xadd(k, {"n": str(i)}, id=f"{i + 1}-0")
        exp[k] = ("stream", 5)
    for k in keys_in(0, 8191, 10, "hll"):
        p.pfadd(k, *[f"h{i}" for i in range(100)])
        exp[k] = ("hll", 100)
    p.execute()
    bigz = keys_in(0, 4095, 1, "bigzset")[0]
    for off in range(0, big, 10_000):
        c.zadd(bigz, {f"m{i}": i for i in range(off, min(big, off + 10_000))})
    exp[bigz] = ("bigzset", big)
    return exp


def check_key(c, k, want):
    t, v = want
    if t == "string":
        assert c.get(k) == v, k
    elif t == "hash":
        assert c.hgetall(k) == v, k
    elif t == "list":
        assert c.lrange(k, 0, -1) == v, k
    elif t == "set":
        assert c.smembers(k) == v, k
    elif t == "zset":
        assert c.zrange(k, 0, -1, withscores=True) == v, k
    elif t == "stream":
        assert c.xlen(k) == v, k
        assert [e[1] for e in c.xrange(k)] == [{b"n": str(i).encode()} for i in range(v)], k
    elif t == "hll":
        assert c.pfcount(k) == v, k
    elif t == "bigzset":
        assert c.zcard(k) == v, k
        assert c.zscore(k, f"m{v - 1}") == v - 1, k
        assert c.zrange(k, 0, 2) == [b"m0", b"m1", b"m2"], k


def test_move_every_type_under_load(cluster):
    s, t = setup_pair(cluster)
    tr = cluster.node("tr", args=["--replicaof", f"127.0.0.1:{t.port}"])
    sr = cluster.node("sr", args=["--replicaof", f"127.0.0.1:{s.port}"])
    sc, tc = s.client(), t.client()
    exp = load_every_type(sc, BIG)
    ttl_keys = [k for k in exp if k.startswith("ttl:")]
    pttl_before = {k: sc.pexpiretime(k) for k in ttl_keys}
    n_before = sc.dbsize()
    assert n_before == len(exp)
    moving = [k for k in exp if in_move(k)]
    assert any(exp[k][0] == "bigzset" for k in moving)

    # SLOTSINFO: exact at this size, counts as stored.
    info = sc.execute_command("STRATA", "SLOTSINFO", "0-4095,4096-8191")
    d = [dict(zip(x[0::2], x[1::2])) for x in info]
    assert [x[b"range"] for x in d] == [b"0-4095", b"4096-8191"]
    assert d[0][b"keys"] == len(moving) and d[0][b"exact"] == 1
    assert d[0][b"keys"] + d[1][b"keys"] == n_before
    assert d[0][b"bytes"] > BIG * 16

    # A writer and a reader on the moving range while the job runs.
    stop = threading.Event()
    acked = {}
    errors = []
    wkeys = keys_in(0, 4095, 200, "w") + keys_in(4096, 8191, 50, "w")

    def writer():
        r = Router(s, t)
        i = 0
        try:
            while not stop.is_set() and i < 200_000:
                k = wkeys[i % len(wkeys)]
                r.do(k, "SET", k, str(i))
                acked[k] = str(i).encode()
                i += 1
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    def reader():
        r = Router(s, t)
        i = 0
        try:
            while not stop.is_set() and i < 200_000:
                k = moving[i % len(moving)]
                if exp[k][0] == "string":
                    assert r.do(k, "GET", k) == exp[k][1], k
                i += 1
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    th = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for x in th:
        x.start()
    try:
        time.sleep(0.3)
        t0 = time.time()
        assert start(s, t) == b"OK"
        with pytest.raises(redis.ResponseError, match="^BUSY"):
            start(s, t, "j2")
        # A multi-key command across the moving range and another slot.
        a, b = keys_in(0, 4095, 1, "x")[0], keys_in(4096, 8191, 1, "x")[0]
        try:
            sc.mset({a: 1, b: 2})
        except redis.ResponseError as e:
            assert str(e).startswith(("TRYAGAIN", "CROSSSLOT")), e
        j = wait_state(s, ("trim", "done"), timeout=120)
        took = time.time() - t0
        time.sleep(0.3)
    finally:
        stop.set()
        for x in th:
            x.join(60)
    assert not errors, errors
    print(f"moved {j['keys_copied']} keys, {j['bytes_copied']} bytes in {took:.2f}s; "
          f"fence {j['fence_ms']} ms")
    wait_state(s, ("done",))
    assert j["keys_total"] == j["keys_copied"] >= len(moving)

    # Ownership: g2 owns the range at epoch 2 on both nodes.
    for n in (s, t):
        rs = dict(zip(*[iter(n.client().execute_command("STRATA", "SLOTS"))] * 2))[b"ranges"]
        assert [0, 4095, b"g2", 2] in [list(x) for x in rs], rs
    with pytest.raises(redis.ResponseError, match="^MOVED"):
        sc.get(moving[0])

    # Every key, on the right node; writes acknowledged during the move too.
    for k, want in exp.items():
        check_key(tc if in_move(k) else sc, k, want)
    for k, v in acked.items():
        assert (tc if in_move(k) else sc).get(k) == v, k
    for k in ttl_keys:
        assert (tc if in_move(k) else sc).pexpiretime(k) == pttl_before[k], k

    # The source trimmed its copies; DBSIZE right on both.
    n_moved = sum(1 for k in set(exp) | set(acked) if in_move(k))
    n_kept = sum(1 for k in set(exp) | set(acked) if not in_move(k))
    assert tc.dbsize() == n_moved
    assert sc.dbsize() == n_kept
    info = sc.info("migration")
    assert info["export_state"] == "done"
    tab = dict(zip(*[iter(sc.execute_command("STRATA", "SLOTS"))] * 2))
    assert tab[b"unowned_keys"] == 0
    # The target's replica: same keys.
    trc = tr.client()
    wait_until(lambda: trc.dbsize() == n_moved, 30, what="replica caught up")
    for k in moving[:200]:
        assert trc.type(k) == tc.type(k)
    assert trc.zcard(keys_in(0, 4095, 1, "bigzset")[0]) == BIG
    # The source's replica: the same table, trimmed too.
    src = sr.client()
    wait_until(lambda: src.dbsize() == n_kept and
               dict(zip(*[iter(src.execute_command("STRATA", "SLOTS"))] * 2))[b"unowned_keys"] == 0,
               30, what="source replica trimmed")
    with pytest.raises(redis.ResponseError, match="^MOVED"):
        src.get(moving[0])


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_kill_source_mid_copy_then_restart(cluster, sig):
    s, t = setup_pair(cluster)
    sc = s.client()
    exp = load_every_type(sc, 30_000)
    # Slow enough to be caught mid-copy.
    assert start(s, t, "k1", MOVE, "RATE", "1") == b"OK"
    wait_until(lambda: export_job(s)["keys_copied"] > 0, 30, what="copy under way")
    if sig == "SIGKILL":
        s.kill()
    else:
        assert s.stop() == 0   # a clean shutdown in the middle of a copy
    s.start()
    j = export_job(s)
    assert j["state"] == "failed" and "restarted" in j["last_error"]
    tc = t.client()
    # T saw the link drop: it aborted and drops what it staged.
    wait_until(lambda: t.client().info("migration").get("import_state") == "aborted", 20)
    wait_until(lambda: t.client().info("migration")["migrate_trimming"] == 0, 30)
    sc = s.client()
    for k, want in exp.items():
        check_key(sc, k, want)
    assert tc.dbsize() == 0
    assert start(s, t, "k2") == b"OK"
    wait_state(s, ("done",), timeout=120)
    for k, want in exp.items():
        check_key(tc if in_move(k) else sc, k, want)
    assert tc.dbsize() + sc.dbsize() == len(exp)


def test_kill_target_mid_copy_then_restart(cluster):
    s, t = setup_pair(cluster)
    sc = s.client()
    exp = load_every_type(sc, 30_000)
    assert start(s, t, "k1", MOVE, "RATE", "1") == b"OK"
    wait_until(lambda: export_job(s)["keys_copied"] > 0, 30, what="copy under way")
    t.kill()
    wait_state(s, ("failed",))
    for k, want in exp.items():
        check_key(sc, k, want)   # still all here, all owned
    t.start()
    wait_until(lambda: t.client().info("migration")["migrate_trimming"] == 0, 30)
    assert t.client().info("migration")["import_state"] == "aborted"
    assert t.client().dbsize() == 0
    assert start(s, t, "k2") == b"OK"
    wait_state(s, ("done",), timeout=120)
    tc = t.client()
    for k, want in exp.items():
        check_key(tc if in_move(k) else sc, k, want)
    assert tc.dbsize() + sc.dbsize() == len(exp)


def test_controls_and_errors(cluster):
    mport = free_port()
    s, t = setup_pair(cluster, s_args=["--metrics-listen", f"127.0.0.1:{mport}"])
    sc = s.client()
    exp = load_every_type(sc, 20_000)
    with pytest.raises(redis.ResponseError, match="not owned by this node"):
        start(s, t, "e1", "8000-9000")
    with pytest.raises(redis.ResponseError, match="invalid ranges"):
        start(s, t, "e1", "0-99999")
    with pytest.raises(redis.ResponseError, match="no such export job"):
        sc.execute_command("STRATA", "MIGRATE", "PAUSE", "nope")
    assert start(s, t, "c1", MOVE, "RATE", "1") == b"OK"
    wait_until(lambda: export_job(s)["keys_copied"] > 0, 30)
    assert sc.execute_command("STRATA", "MIGRATE", "PAUSE", "c1") == b"OK"
    assert export_job(s)["state"] == "paused"
    # Multi-key commands across the moving range and another slot: TRYAGAIN.
    a, b = keys_in(0, 4095, 1, "x")[0], keys_in(4096, 8191, 1, "x")[0]
    with pytest.raises(redis.ResponseError, match="^TRYAGAIN Multiple keys request during rehashing of slot"):
        sc.mset({a: 1, b: 2})
    assert sc.mset({a: 1}) and sc.mset({b: 2})   # one side at a time: fine
    p = sc.pipeline(transaction=True)
    p.set(a, 1).set(b, 2).mget(a, b)
    with pytest.raises(redis.ResponseError):
        p.execute()                              # the queued MGET aborts EXEC
    # FLUSHALL on the target leaves what it is importing.
    staged = t.client().info("migration")["import_keys_copied"]
    assert staged > 0
    t.client().flushall()
    body = urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=5).read().decode()
    assert 'strata_node_migration_keys_copied{role="export",job="c1",state="paused"}' in body
    n = export_job(s)["bytes_copied"]
    time.sleep(0.3)
    assert export_job(s)["bytes_copied"] == n
    assert sc.execute_command("STRATA", "MIGRATE", "RESUME", "c1") == b"OK"
    assert sc.execute_command("STRATA", "MIGRATE", "RATE", "c1", "2") == b"OK"
    assert export_job(s)["rate_mb"] == 2
    imp = [j for j in status(t) if j["role"] == "import"][0]
    assert imp["state"] == "copy" and imp["peer"] == "g1" and imp["ranges"] == MOVE
    text = sc.info("migration")
    assert text["export_job"] == "c1"
    assert sc.execute_command("STRATA", "MIGRATE", "CANCEL", "c1") == b"OK"
    assert export_job(s)["state"] == "aborted"
    wait_until(lambda: t.client().info("migration").get("import_state") == "aborted", 20)
    wait_until(lambda: t.client().dbsize() == 0 and t.client().info("migration")["migrate_trimming"] == 0, 30)
    # Nothing moved; a new job runs to the end.
    assert start(s, t, "c2") == b"OK"
    wait_state(s, ("done",), timeout=120)
    # Every key where it belongs, the target's FLUSHALL notwithstanding.
    tc = t.client()
    for k, want in exp.items():
        check_key(tc if in_move(k) else sc, k, want)


def parked_get(node, key, out):
    """GET in a thread: parked by the fence, answered when it ends."""
    def run():
        try:
            out.append(node.client(socket_timeout=30).get(key))
        except redis.ResponseError as e:
            out.append(e)
        except Exception as e:  # noqa: BLE001
            out.append(e)
    th = threading.Thread(target=run)
    th.start()
    return th


def in_fence(s):
    return export_job(s)["state"] in ("fence", "commit")


@pytest.mark.parametrize("victim", ["target", "source"])
def test_kill_mid_fence_aborts(cluster, victim):
    """SIGKILL of either node while the source is fenced: the target had
    not committed, so the move rolls back and every key is on the source;
    a command parked by the fence is answered; the job runs again."""
    s, t = setup_pair(cluster)
    sc = s.client()
    exp = load_every_type(sc, 5_000)
    k = next(k for k in exp if in_move(k) and exp[k][0] == "string")
    assert start(s, t, "f1", MOVE, "DEBUG-FENCE-MS", "5000") == b"OK"
    wait_until(lambda: in_fence(s), 30, what="fence")
    assert export_job(s)["state"] == "fence"
    got = []
    th = parked_get(s, k, got)
    time.sleep(0.2)
    assert got == []                       # parked, not refused
    assert sc.get(keys_in(4096, 8191, 1, "str")[0]) is not None  # other slots run on
    if victim == "target":
        t.kill()
        wait_until(lambda: export_job(s)["state"] == "resolve", 10)
        time.sleep(0.3)
        assert got == []                   # no verdict yet: still parked
        t.start()
    else:
        s.kill()
        th.join(10)
        s.start()
    wait_state(s, ("aborted",), timeout=30)
    th.join(10)
    if victim == "target":
        assert got == [exp[k][1]]
    sc = s.client()
    for key, want in exp.items():
        check_key(sc, key, want)
    wait_until(lambda: t.client().info("migration")["migrate_trimming"] == 0, 30)
    assert t.client().dbsize() == 0
    assert start(s, t, "f2") == b"OK"
    wait_state(s, ("done",), timeout=60)
    tc = t.client()
    for key, want in exp.items():
        check_key(tc if in_move(key) else sc, key, want)
    assert tc.dbsize() + sc.dbsize() == len(exp)


def test_kill_source_after_commit_sent(cluster):
    """The source dies after sending COMMIT, before hearing the answer
    (the target is stopped, then committs once resumed): the restarted
    source asks the target's verdict, takes the switch and trims."""
    s, t = setup_pair(cluster)
    sc = s.client()
    exp = load_every_type(sc, 5_000)
    k = next(k for k in exp if in_move(k) and exp[k][0] == "string")
    assert start(s, t, "f1", MOVE, "DEBUG-FENCE-MS", "1500") == b"OK"
    wait_until(lambda: in_fence(s), 30, what="fence")
    t.proc.send_signal(__import__("signal").SIGSTOP)
    try:
        wait_until(lambda: export_job(s)["state"] == "commit", 10, what="COMMIT sent")
        time.sleep(0.2)
        s.kill()
    finally:
        t.proc.send_signal(__import__("signal").SIGCONT)
    s.start()
    wait_state(s, ("done",), timeout=30)
    sc, tc = s.client(), t.client()
    with pytest.raises(redis.ResponseError, match="^MOVED"):
        sc.get(k)
    for key, want in exp.items():
        check_key(tc if in_move(key) else sc, key, want)
    assert tc.dbsize() + sc.dbsize() == len(exp)
    assert [j for j in status(t) if j["role"] == "import"][0]["state"] == "done"


def test_stale_keys_on_target_are_dropped_first(cluster):
    """Keys the target stored in the moving slots before it had a slot
    table must not come back at the commit: PREPARE drops them first."""
    s = cluster.node("s")
    t = cluster.node("t")
    stale = keys_in(0, 4095, 20, "stale")
    t.client().mset({k: "old" for k in stale})
    s.client().execute_command("STRATA", "SETSLOTS", "g1", "1", "g1", G1, "g2", G2)
    t.client().execute_command("STRATA", "SETSLOTS", "g2", "1", "g1", G1, "g2", G2)
    sc = s.client()
    sc.set(stale[0], "new")
    assert start(s, t, "s1") == b"OK"
    j = wait_state(s, ("failed", "done"), timeout=30)
    assert j["state"] == "failed" and "BUSY" in j["last_error"], j
    wait_until(lambda: t.client().info("migration")["migrate_trimming"] == 0, 30)
    assert start(s, t, "s2") == b"OK"
    wait_state(s, ("done",), timeout=30)
    tc = t.client()
    assert tc.get(stale[0]) == b"new"
    assert all(tc.exists(k) == 0 for k in stale[1:])
    assert tc.dbsize() == 1


def setup_pairs_with_replicas(cluster):
    """s and t, each with a replica and semi-synchronous acks (so what a
    master acknowledged, the COMMIT included, is on its replica)."""
    semi = ["--min_replica_acks", "1", "--replica_ack_timeout_ms", "10000"]
    s = cluster.node("s", args=semi)
    t = cluster.node("t", args=semi)
    sr = cluster.node("sr", args=["--replicaof", f"127.0.0.1:{s.port}"])
    tr = cluster.node("tr", args=["--replicaof", f"127.0.0.1:{t.port}"])
    for m in (s, t):
        wait_until(lambda: m.client().info("replication")["connected_slaves"] == 1, 15,
                   what="replica attached")
    s.client().execute_command("STRATA", "SETSLOTS", "g1", "1", "g1", G1, "g2", G2)
    t.client().execute_command("STRATA", "SETSLOTS", "g2", "1", "g1", G1, "g2", G2)
    return s, t, sr, tr


@pytest.mark.parametrize("phase", ["copy", "fence"])
@pytest.mark.parametrize("side", ["source", "target"])
def test_failover_mid_move(cluster, side, phase):
    """SIGKILL of one group's master mid-copy or mid-fence, then its
    replica promoted (REPLICAOF NO ONE): the promoted node reads the
    replicated job state and the move rolls back (the target had not
    committed); every key is readable exactly once, on the source, with
    every acknowledged write; a new job between the surviving masters
    finishes."""
    from test_repl_common import Writer
    s, t, sr, tr = setup_pairs_with_replicas(cluster)
    sc = s.client()
    exp = load_every_type(sc, 20_000 if phase == "copy" else 3_000)
    w = Writer(s.port, "w", limit=20_000, seconds=30).start()
    wait_until(lambda: len(w.acked) > 200, 20, what="acknowledged writes")
    if phase == "copy":
        assert start(s, t, "v1", MOVE, "RATE", "1") == b"OK"
        wait_until(lambda: export_job(s)["keys_copied"] > 0, 30, what="copy under way")
    else:
        assert start(s, t, "v1", MOVE, "DEBUG-FENCE-MS", "5000") == b"OK"
        wait_until(lambda: in_fence(s), 30, what="fence")
    if side == "source":
        s.kill()
        w.stop()
        sr.client().replicaof("NO", "ONE")
        s, t = sr, t
        # Copy: failed (the coordinator starts it again); fence: T's
        # verdict (it saw the old link close: aborted) unfences R.
        wait_state(s, ("failed",) if phase == "copy" else ("aborted",), timeout=30)
        if phase == "copy":
            assert "promoted" in export_job(s)["last_error"]
    else:
        t.kill()
        tr.client().replicaof("NO", "ONE")
        if phase == "copy":
            wait_state(s, ("failed",), timeout=30)
        else:
            wait_until(lambda: export_job(s)["state"] == "resolve", 10, what="asking the verdict")
            with pytest.raises(redis.ResponseError, match="no such export job"):
                s.client().execute_command("STRATA", "MIGRATE", "TARGET", "nope", "127.0.0.1", str(tr.port))
            assert s.client().execute_command("STRATA", "MIGRATE", "TARGET", "v1", "127.0.0.1",
                                              str(tr.port)) == b"OK"
            wait_state(s, ("aborted",), timeout=30)
        t = tr
        w.stop()
    # The target's new master aborted the import and dropped the staging.
    wait_until(lambda: t.client().info("migration").get("import_state") == "aborted", 20,
               what="import aborted on the target")
    wait_until(lambda: t.client().info("migration")["migrate_trimming"] == 0, 30)
    assert t.client().dbsize() == 0
    sc, tc = s.client(), t.client()
    acked = {f"w:{i}": str(i).encode() for i in w.acked}
    assert len(acked) > 200
    for k, want in exp.items():
        check_key(sc, k, want)
    for k, v in acked.items():
        assert sc.get(k) == v, k
    # A new job between the surviving masters finishes.
    assert start(s, t, "v2") == b"OK"
    wait_state(s, ("done",), timeout=120)
    for k, want in exp.items():
        check_key(tc if in_move(k) else sc, k, want)
    for k, v in acked.items():
        assert (tc if in_move(k) else sc).get(k) == v, k
    # Exactly once: no key on both; beyond what was expected, only writes
    # in flight at the kill (applied, their replies lost).
    on_s = {k.decode() for k in sc.scan_iter(count=1000)}
    on_t = {k.decode() for k in tc.scan_iter(count=1000)}
    assert not on_s & on_t
    assert on_s == {k for k in on_s if not in_move(k)} and on_t == {k for k in on_t if in_move(k)}
    extra = (on_s | on_t) - set(exp) - set(acked)
    assert all(k.startswith("w:") and int(k[2:]) > max(w.acked) for k in extra), extra
    assert tc.dbsize() + sc.dbsize() == len(on_s | on_t)
