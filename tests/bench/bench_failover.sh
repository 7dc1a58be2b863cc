#!/usr/bin/env bash
# tests/bench/bench_failover.sh: failover time, strata-sentinel vs Redis Sentinel.
#
#   bash tests/bench/bench_failover.sh [RUNS]
#
# Each run, for each side, on free loopback ports in a temporary directory:
#   - one group: a master and two replicas (strata-node with
#     min_replica_acks 1, or redis-server), three sentinels (strata-sentinel,
#     or `redis-server --sentinel`) with down_after 1000 ms and failover
#     timeout 3000 ms, and strata-proxy in front (it follows both kinds of
#     sentinel the same way);
#   - a client writes SET through the proxy in a loop; once 300 writes are
#     acknowledged the master gets SIGKILL;
#   - measured: time from the SIGKILL to the first acknowledged write after
#     it; then every acknowledged write is read back through the proxy and
#     the missing ones are counted as lost.
# Runs alternate between the two sides; prints every run, then median and
# max per side.  Not a pass/fail test.
#
# Builds Release binaries in build-failover-rel/ (BENCH_SKIP_BUILD=1: reuse).
set -euo pipefail

RUNS="${1:-5}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="$ROOT/build-failover-rel"
PY=/usr/bin/python3

if [ -n "${BENCH_SKIP_BUILD:-}" ] && [ -x "$BUILD/bin/strata-sentinel" ]; then
  echo "bench_failover: using the binaries in $BUILD/bin (BENCH_SKIP_BUILD)"
else
  echo "bench_failover: building Release binaries in $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSTRATA_TESTS=OFF >/dev/null
  cmake --build "$BUILD" -j 2 --target strata-node strata-proxy strata-sentinel >/dev/null
fi
command -v redis-server >/dev/null || { echo "bench_failover: redis-server is not installed" >&2; exit 1; }

export STRATA_BIN="$BUILD/bin" BENCH_RUNS="$RUNS" PYTHONPATH="$ROOT/tests/e2e"
exec "$PY" - <<'PYEOF'
import os
import signal
import statistics
import sys
import time

from harness import Cluster, free_port, wait_until
from proxy_util import topology_text, write_file
from test_sentinel_common import Writer

DOWN_AFTER = 1000
FAILOVER_TIMEOUT = 3000


def redis_sentinel(c, name, master_port):
    port = free_port()
    d = c.path(name, "")
    conf = c.path(name, "sentinel.conf")
    with open(conf, "w") as f:
        f.write(f"port {port}\nbind 127.0.0.1\ndir {d}\n"
                f"sentinel monitor g1 127.0.0.1 {master_port} 2\n"
                f"sentinel down-after-milliseconds g1 {DOWN_AFTER}\n"
                f"sentinel failover-timeout g1 {FAILOVER_TIMEOUT}\n"
                "sentinel parallel-syncs g1 2\n")
    return c._new(name, ["redis-server", conf, "--sentinel"], port, True, d)


def topo(c, nodes, sentinel_ports):
    return write_file(c, "topology.yaml", topology_text(
        [("g1", "0-16383", [f"127.0.0.1:{n.port}" for n in nodes])],
        proxy={"timeout_ms": 2000, "switch_wait_ms": 10000, "sentinel_poll_ms": 200},
        sentinel={"addrs": "[" + ", ".join(f"127.0.0.1:{p}" for p in sentinel_ports) + "]",
                  "quorum": 2, "down_after_ms": DOWN_AFTER, "failover_timeout_ms": FAILOVER_TIMEOUT}))


def setup_strata(c):
    args = ["--min_replica_acks", "1"]
    m = c.node("n0", args=args)
    reps = [c.node(f"n{i}", args=["--replicaof", f"127.0.0.1:{m.port}"] + args) for i in (1, 2)]
    for r in reps:
        wait_until(lambda r=r: r.client().info("replication").get("master_link_status") == "up", 20)
    ports = [free_port() for _ in range(3)]
    t = topo(c, [m] + reps, ports)
    sents = [c.sentinel(t, name=f"s{i}", port=p) for i, p in enumerate(ports)]
    for s in sents:
        wait_until(lambda s=s: len(s.client().sentinel_sentinels("g1")) == 2 and all(
            "s_down" not in x["flags"] for x in s.client().sentinel_sentinels("g1")), 10)
    return m, t


def setup_redis(c):
    m = c.redis("n0")
    reps = [c.redis(f"n{i}", args=["--replicaof", "127.0.0.1", str(m.port)]) for i in (1, 2)]
    for r in reps:
        wait_until(lambda r=r: r.client().info("replication").get("master_link_status") == "up", 20)
    sents = [redis_sentinel(c, f"s{i}", m.port) for i in range(3)]
    for s in sents:
        cl = s.client()
        wait_until(lambda: len(cl.execute_command("SENTINEL", "REPLICAS", "g1")) == 2, 30)
        wait_until(lambda: len(cl.execute_command("SENTINEL", "SENTINELS", "g1")) == 2, 30)
    return m, topo(c, [m] + reps, [s.port for s in sents])


def run_once(kind):
    c = Cluster(prefix=f"bench-failover-{kind}-")
    try:
        master, t = (setup_strata if kind == "strata" else setup_redis)(c)
        proxy = c.proxy(t)
        w = Writer(proxy.client(socket_timeout=10), prefix="fo", max_seconds=60).start()
        w.wait_acked(300)
        master.kill(signal.SIGKILL)  # returns once the process is gone
        t_kill = time.monotonic()
        wait_until(lambda: w.first_ok_after(t_kill), 40, interval=0.005)
        w.wait_acked(200)
        w.finish()
        gap_ms = 1000 * (w.first_ok_after(t_kill) - t_kill)
        r = proxy.client(socket_timeout=10)
        keys = list(w.acked)
        lost = 0
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            for k, v in zip(chunk, r.mget(chunk)):
                lost += v is None or int(v) < int(w.acked[k])
        return gap_ms, lost, len(keys)
    finally:
        c.close()


runs = int(os.environ.get("BENCH_RUNS", "5"))
res = {"strata": [], "redis": []}
print(f"bench_failover: {runs} runs per side, down_after {DOWN_AFTER} ms, 1 master + 2 replicas, "
      "3 sentinels, writes through strata-proxy")
for i in range(runs):
    for kind in ("strata", "redis"):
        gap, lost, acked = run_once(kind)
        res[kind].append((gap, lost))
        print(f"  run {i + 1} {kind:6s}: first write {gap:7.0f} ms after SIGKILL, "
              f"{lost} of {acked} acknowledged writes lost", flush=True)
print()
print(f"{'':22s}{'median ms':>10s}{'max ms':>10s}{'lost (total)':>14s}")
for kind, label in (("strata", "strata-sentinel"), ("redis", "Redis Sentinel 7.0")):
    gaps = [g for g, _ in res[kind]]
    print(f"{label:22s}{statistics.median(gaps):10.0f}{max(gaps):10.0f}"
          f"{sum(l for _, l in res[kind]):14d}")
sm = statistics.median(g for g, _ in res["strata"])
rm = statistics.median(g for g, _ in res["redis"])
print(f"\nstrata median / redis median = {sm / rm:.2f}")
PYEOF
