#!/usr/bin/env bash
# tests/bench/bench_types.sh: the data-type commands of strata-node against
# redis-server, side by side, and the cost of deleting a big collection.
#
#   bash tests/bench/bench_types.sh
#
# Builds a Release strata-node (in $BENCH_BUILD, default build-bench/),
# starts it and a redis-server on free loopback ports in a temporary
# directory and prints, for each test, requests per second on both and the
# ratio strata/redis:
#   - redis-benchmark -t lpush,rpop,sadd,hset,zadd,lrange_100
#   - ZRANGEBYSCORE over a 100,000-member zset (a seek at a random score,
#     10 members returned), as a redis-benchmark custom command
# then builds a 1,000,000-element hash and zset on both servers and times
# DEL of each (round trip seen by the client), and how long strata-node's
# background GC takes to reclaim them.  Nothing is written to the tree; not
# a pass/fail test.
#
# Environment:
#   BENCH_N        requests per test (default 200000)
#   BENCH_CLIENTS  parallel clients (default 50)
#   BENCH_PIPELINE pipeline depth (default 1)
#   BENCH_ROUNDS   paired rounds, servers alternating (default 3; lib.sh)
#   BENCH_BIG      elements of the big collections (default 1000000)
#   BENCH_BUILD    build directory (default build-bench)
#   BENCH_REPLICAS 1: give each server a replica of its own kind (a strata
#                  node keeps no replication log while no replica could
#                  read it, as Redis keeps no backlog: this measures the
#                  cost of the log and of feeding a replica, on both)
#   NODE_ARGS      extra strata-node flags (default: none, i.e. fsync everysec)
#   REDIS_ARGS     extra redis-server flags (default: no RDB snapshots, no AOF)
set -euo pipefail

# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BUILD="${BENCH_BUILD:-$ROOT/build-bench}"
N="${BENCH_N:-200000}"
CLIENTS="${BENCH_CLIENTS:-50}"
PIPE="${BENCH_PIPELINE:-1}"
BIG="${BENCH_BIG:-1000000}"

bench_init bench-types
bench_build "$BUILD" strata-node

start_node node
NODE_PORT=$PORT NODE_PID=$PID
start_redis redis
REDIS_PORT=$PORT REDIS_PID=$PID
REPLICA_NOTE=""
if [ "${BENCH_REPLICAS:-0}" = 1 ]; then
  start_node node-replica --replicaof "127.0.0.1:$NODE_PORT"
  start_redis redis-replica --replicaof 127.0.0.1 "$REDIS_PORT"
  REPLICA_NOTE=", each with a replica"
fi

# "NAME,rps" lines from a redis-benchmark --csv run; the LPUSH that
# redis-benchmark runs to fill the list for LRANGE is left out.
csv_rps() {  # label-for-custom-commands
  awk -F'","' -v label="$1" 'NR > 1 {
      gsub(/"/, "", $1); gsub(/"/, "", $2)
      if ($1 ~ /needed/) next
      split($1, t, " ")
      print (label != "" ? label : t[1]) "," $2 }'
}

bench_t() {  # port
  redis-benchmark -h 127.0.0.1 -p "$1" -t lpush,rpop,sadd,hset,zadd,lrange_100 \
    -c "$CLIENTS" -n "$N" -P "$PIPE" -r 100000 --csv 2>/dev/null | csv_rps ""
}

bench_zrange() {  # port
  redis-benchmark -h 127.0.0.1 -p "$1" -c "$CLIENTS" -n "$N" -P "$PIPE" -r 100000 --csv \
    ZRANGEBYSCORE zbig __rand_int__ +inf LIMIT 0 10 2>/dev/null | csv_rps ZRANGEBYSCORE_100K
}

fill_zbig() {  # port: 100,000 members, score = rank
  "$PY" - "$1" <<'EOF'
import sys, redis
c = redis.Redis(port=int(sys.argv[1]), socket_timeout=120)
c.delete("zbig")
p = c.pipeline(transaction=False)
for i in range(0, 100000, 1000):
    args = []
    for j in range(i, i + 1000):
        args += [j, f"member:{j}"]
    p.execute_command("ZADD", "zbig", *args)
p.execute()
assert c.zcard("zbig") == 100000
EOF
}

echo "strata-node on port $NODE_PORT (${NODE_ARGS:-default settings}); $(redis-server --version | cut -d' ' -f1-3) on port $REDIS_PORT (--save \"\" --appendonly no ${REDIS_ARGS:-})"
echo "redis-benchmark -c $CLIENTS -n $N -P $PIPE -r 100000; $(nproc) cores$REPLICA_NOTE"
echo
fill_zbig "$NODE_PORT"
fill_zbig "$REDIS_PORT"
for r in $(seq "$ROUNDS"); do
  { bench_t "$NODE_PORT"; bench_zrange "$NODE_PORT"; } >>"$TMP/node.csv"
  { bench_t "$REDIS_PORT"; bench_zrange "$REDIS_PORT"; } >>"$TMP/redis.csv"
done
ratio_table "$TMP/node.csv" "$TMP/redis.csv"
echo

echo "DEL of a $BIG-element collection (client round trip):"
"$PY" - "$NODE_PORT" "$REDIS_PORT" "$BIG" <<'EOF'
import sys, time, redis
node, ref = (redis.Redis(port=int(p), socket_timeout=300) for p in sys.argv[1:3])
big = int(sys.argv[3])

def build(c, kind):
    p = c.pipeline(transaction=False)
    for i in range(0, big, 1000):
        hi = min(big, i + 1000)
        args = []
        for j in range(i, hi):
            args += ([f"field:{j}", f"value:{j}"] if kind == "hash" else [j, f"member:{j}"])
        p.execute_command("HSET" if kind == "hash" else "ZADD", "big:" + kind, *args)
        if (i // 1000) % 20 == 19:
            p.execute()
    p.execute()

def timed_del(c, key):
    t = time.perf_counter()
    assert c.delete(key) == 1
    return (time.perf_counter() - t) * 1000

def level0_files():
    return int(node.info("persistence")["storage_level0_files"])

print(f"{'type':<6} {'strata ms':>10} {'redis ms':>10}  strata GC drain")
for kind in ("hash", "zset"):
    build(node, kind)
    build(ref, kind)
    # LevelDB delays every write by 1 ms while 8 or more level-0 files wait
    # for compaction, as they may just after a bulk load: time the DEL once
    # the build's files are compacted (at most 60 s), so it measures the
    # DEL, and show the count it met.
    t = time.monotonic()
    while level0_files() >= 4 and time.monotonic() - t < 60:
        time.sleep(0.1)
    l0 = level0_files()
    s = timed_del(node, "big:" + kind)
    r = timed_del(ref, "big:" + kind)
    t = time.monotonic()
    while node.info("persistence")["gc_pending_collections"] and time.monotonic() - t < 600:
        time.sleep(0.1)
    print(f"{kind:<6} {s:>10.3f} {r:>10.3f}  {time.monotonic() - t:.1f}s"
          f"  (level-0 files at the DEL: {l0})")
EOF
echo
echo "node peak RSS (VmHWM): $(awk '/VmHWM/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$NODE_PID/status")"
