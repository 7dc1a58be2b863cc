#!/usr/bin/env bash
# tests/bench/bench_reshard.sh: online resharding through the whole stack
# (issue 17).  Not a pass/fail test.
#
#   bash tests/bench/bench_reshard.sh
#   SIZE_MB=2048 bash tests/bench/bench_reshard.sh      # the issue's 2 GB
#
# On free loopback ports in a temporary directory: two groups (a
# strata-node master and a replica each, min_replica_acks 1), three
# strata-sentinels and strata-proxy.  Through the proxy: SIZE_MB of
# strings of VALUE bytes (pipelines of 500 SETs).  Then half of g1's slots
# (0-4095) move to g2 with `strata-cli reshard`, in STEPS separate edits of
# the file (one job each, so one switch per range), while redis-benchmark
# runs SET/GET through the proxy in back-to-back batches and a probe
# client does one SET every millisecond on the moving slots.  Prints:
#   - per job: slots, keys, bytes, time, MB/s, keys/s, the fence (switch
#     pause on the source) and the longest probe SET around it;
#   - total MB/s and keys/s over the move;
#   - redis-benchmark rps / p50 / p99 / max before, during and after;
#   - the longest single request the probe saw (the pause as a client
#     sees it).
#
# env: SIZE_MB (64), VALUE (1000 bytes), STEPS (4), RATE (MB/s per job,
#      1000), CLIENTS (50), BENCH_N (requests per before/after run, 100000),
#      BATCH_N (requests per batch during the move, 20000).
# Builds Release binaries in build-reshard-rel/ (BENCH_SKIP_BUILD=1: reuse).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="$ROOT/build-reshard-rel"
PY=/usr/bin/python3

if [ -n "${BENCH_SKIP_BUILD:-}" ] && [ -x "$BUILD/bin/strata-cli" ]; then
  echo "bench_reshard: using the binaries in $BUILD/bin (BENCH_SKIP_BUILD)"
else
  echo "bench_reshard: building Release binaries in $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSTRATA_TESTS=OFF >/dev/null
  cmake --build "$BUILD" -j 2 --target strata-node strata-proxy strata-sentinel strata-cli >/dev/null
fi
command -v redis-benchmark >/dev/null || { echo "bench_reshard: redis-benchmark is not installed" >&2; exit 1; }

export STRATA_BIN="$BUILD/bin" PYTHONPATH="$ROOT/tests/e2e"
exec "$PY" - <<'PYEOF'
import csv
import io
import os
import re
import statistics
import subprocess
import threading
import time

import redis

from harness import Cluster, binary, free_port, wait_until
from proxy_util import key_slot
from test_sentinel_common import start_group, start_sentinels, write_topology

SIZE_MB = float(os.environ.get("SIZE_MB", "64"))
VALUE = int(os.environ.get("VALUE", "1000"))
STEPS = int(os.environ.get("STEPS", "4"))
RATE = os.environ.get("RATE", "1000")
CLIENTS = os.environ.get("CLIENTS", "50")
BENCH_N = os.environ.get("BENCH_N", "100000")
BATCH_N = os.environ.get("BATCH_N", "20000")
DOWN_AFTER = 5000
PROXY = {"timeout_ms": 5000, "switch_wait_ms": 8000, "sentinel_poll_ms": 200}
NODE_ARGS = ["--min_replica_acks", "1", "--replica_ack_timeout_ms", "500", "--replica_ack_fallback", "async"]


def load(port, nkeys):
    """SET bench:<i> of VALUE bytes through the proxy, 500 a pipeline."""
    block = os.urandom(1 << 20).hex().encode()
    c = redis.Redis(port=port, socket_timeout=60)
    for i in range(0, nkeys, 500):
        p = c.pipeline(transaction=False)
        for j in range(i, min(nkeys, i + 500)):
            off = (j * 7919) % (len(block) - VALUE)
            p.set(f"bench:{j}", block[off:off + VALUE])
        p.execute()
    return f"{nkeys} keys written"


def bench(port, n):
    """One redis-benchmark run: {test: (rps, p50, p99, max)}."""
    p = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set,get", "-n", str(n), "-r", "1000000",
                        "-c", CLIENTS, "--csv"], capture_output=True, timeout=600)
    rows = {}
    for row in csv.reader(io.StringIO(p.stdout.decode())):
        if len(row) >= 8 and row[0] in ("SET", "GET"):
            rows[row[0]] = (float(row[1]), float(row[4]), float(row[6]), float(row[7]))
    return rows


class Probe:
    """One SET every millisecond on a key of the moving slots; records
    (time, latency) of each."""

    def __init__(self, port, key):
        self.port, self.key = port, key
        self.samples = []
        self.errors = 0
        self.stop_flag = threading.Event()
        self.th = threading.Thread(target=self.run, daemon=True)

    def run(self):
        c = redis.Redis(port=self.port, socket_timeout=30)
        i = 0
        deadline = time.monotonic() + 3600
        while not self.stop_flag.is_set() and time.monotonic() < deadline:
            t0 = time.monotonic()
            try:
                c.set(self.key, i)
            except redis.RedisError:
                self.errors += 1
            t1 = time.monotonic()
            self.samples.append((t0, t1 - t0))
            i += 1
            time.sleep(max(0.0, 0.001 - (t1 - t0)))

    def worst(self, a=0.0, b=1e18):
        return max((lat for t, lat in self.samples if a <= t <= b), default=0.0)


def fmt(rows):
    return "  ".join(f"{k} {v[0]:>8.0f} rps p50 {v[1]:.3f} p99 {v[2]:.3f} max {v[3]:.1f} ms"
                     for k, v in sorted(rows.items()))


def merge(batches):
    """Batches during the move: rps and p50 medians, p99 and max worst."""
    out = {}
    for k in ("GET", "SET"):
        v = [b[k] for b in batches if k in b]
        if v:
            out[k] = (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v),
                      max(x[2] for x in v), max(x[3] for x in v))
    return out


def main():
    c = Cluster(prefix="bench-reshard-")
    try:
        g1 = start_group(c, "g1", node_args=NODE_ARGS)
        g2 = start_group(c, "g2", node_args=NODE_ARGS)
        ports = [free_port() for _ in range(3)]
        # down_after 5 s: a loaded 2-core machine must not fail a master over mid-bench.
        topo = write_topology(c, [("g1", "0-8191", g1), ("g2", "8192-16383", g2)], ports, proxy=PROXY,
                              down_after=DOWN_AFTER)
        start_sentinels(c, topo, ports)
        proxy = c.proxy(topo)
        nkeys = int(SIZE_MB * 1e6 / VALUE)
        print(f"bench_reshard: loading {nkeys} keys of {VALUE} bytes ({SIZE_MB:g} MB) through the proxy")
        t0 = time.monotonic()
        print("  " + load(proxy.port, nkeys) + f" in {time.monotonic() - t0:.1f} s")
        r = proxy.client(socket_timeout=30)
        print(f"  g1 {g1[0].client().dbsize()} keys, g2 {g2[0].client().dbsize()} keys")

        before = bench(proxy.port, BENCH_N)
        probe_key = next(f"probe:{i}" for i in range(100000) if key_slot(f"probe:{i}") < 4096 // STEPS)
        probe = Probe(proxy.port, probe_key)
        probe.th.start()
        batches, jobs, events = [], [], []
        stop = threading.Event()

        def load_loop():
            while not stop.is_set():
                batches.append(bench(proxy.port, BATCH_N))

        lt = threading.Thread(target=load_loop, daemon=True)
        lt.start()
        time.sleep(1)
        move_t0 = time.monotonic()
        step = 4096 // STEPS
        for s in range(STEPS):
            hi = 4095 if s == STEPS - 1 else (s + 1) * step - 1
            g2_slots = f"0-{hi},8192-16383"
            write_topology(c, [("g1", f"{hi + 1}-8191", g1), ("g2", g2_slots, g2)], ports, proxy=PROXY,
                           down_after=DOWN_AFTER)
            j0 = time.monotonic()
            p = subprocess.Popen([binary("strata-cli"), "reshard", "--config", topo, "--yes", "--rate-mb", RATE],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            lines = []
            for line in p.stdout:
                lines.append((time.monotonic(), line.decode(errors="replace")))
            p.wait(7200)
            j1 = time.monotonic()
            out = "".join(x for _, x in lines)
            for t, x in lines:
                if ": started" in x or ": done (" in x:
                    events.append((t - move_t0, x.split(":")[0] + (" started" if ": started" in x else " done")))
            m = re.search(r"done \((\d+) keys, (\d+) bytes, fence (\d+) ms, (\d+) ms\)", out)
            if p.returncode != 0 or not m:
                print(out)
                raise SystemExit("bench_reshard: strata-cli failed")
            keys, nbytes, fence, ms = (int(x) for x in m.groups())
            jobs.append((f"{s * step}-{hi}", keys, nbytes, fence, ms, probe.worst(j0, j1)))
        move_s = time.monotonic() - move_t0
        time.sleep(1)
        stop.set()
        lt.join(600)
        probe.stop_flag.set()
        probe.th.join(60)
        after = bench(proxy.port, BENCH_N)

        print(f"\nmove of slots 0-4095 g1 -> g2 in {STEPS} jobs at --rate-mb {RATE}, "
              f"redis-benchmark -c {CLIENTS} through the proxy all along:")
        print(f"  {'slots':<11} {'keys':>8} {'MB':>8} {'s':>6} {'MB/s':>7} {'keys/s':>8} {'fence ms':>8} "
              f"{'probe max ms':>12}")
        for rng, keys, nbytes, fence, ms, worst in jobs:
            sec = ms / 1000 or 1e-3
            print(f"  {rng:<11} {keys:>8} {nbytes / 1e6:>8.1f} {sec:>6.2f} {nbytes / 1e6 / sec:>7.1f} "
                  f"{keys / sec:>8.0f} {fence:>8} {worst * 1000:>12.1f}")
        tk, tb = sum(j[1] for j in jobs), sum(j[2] for j in jobs)
        tj = sum(j[4] for j in jobs) / 1000
        print(f"  total: {tk} keys, {tb / 1e6:.1f} MB; {tb / 1e6 / tj:.1f} MB/s, {tk / tj:.0f} keys/s over the "
              f"jobs' own time ({tj:.1f} s; {move_s:.1f} s with strata-cli's planning)")
        print(f"  longest single probe SET during the move: {probe.worst(move_t0, move_t0 + move_s) * 1000:.1f} ms "
              f"({len(probe.samples)} probes, {probe.errors} errors)")
        slow = sorted(((t - move_t0, lat) for t, lat in probe.samples if move_t0 <= t <= move_t0 + move_s),
                      key=lambda x: -x[1])[:5]
        print("  slowest probe SETs (s since the move began: ms), and the jobs' events as strata-cli saw them "
              "(it polls every 200 ms):")
        print("    " + ", ".join(f"{t:.2f}: {lat * 1000:.0f}" for t, lat in sorted(slow)))
        print("    " + ", ".join(f"{t:.2f} {what}" for t, what in events))
        print(f"\nredis-benchmark through the proxy (SET/GET, -c {CLIENTS}; during: {len(batches)} batches of "
              f"{BATCH_N}, medians of rps and p50, worst p99 and max):")
        print("  before  " + fmt(before))
        print("  during  " + fmt(merge(batches)))
        print("  after   " + fmt(after))
        # Sanity: every loaded key still there.
        missing = 0
        for i in range(0, nkeys, 1000):
            ks = [f"bench:{j}" for j in range(i, min(nkeys, i + 1000))]
            missing += sum(1 for v in r.execute_command("MGET", *ks) if v is None)
        print(f"\nkeys missing after the move: {missing} of {nkeys}; sentinel failovers seen by the proxy: "
              f"{r.info('server')['failovers']}")
    finally:
        c.close()


main()
PYEOF
