#!/usr/bin/env bash
# tests/bench/bench_hllgeo.sh: HyperLogLog and geo commands of strata-node
# against redis-server, side by side, at pipeline depths 1 and 16.
#
#   bash tests/bench/bench_hllgeo.sh
#
# Builds a Release strata-node (in $BENCH_BUILD, default build-bench/),
# starts it and a redis-server on free loopback ports in a temporary
# directory, fills on both two dense HyperLogLogs (100,000 elements each)
# and a geo index of 100,000 random points, then runs as redis-benchmark
# custom commands:
#   PFADD        one random element into the dense HyperLogLog
#   PFCOUNT      one key (the cached estimate, refreshed after the PFADDs)
#   PFCOUNT2     the union of the two HyperLogLogs (merged at every call)
#   GEOADD       a random point into a second geo index
#   GEOSEARCH    the 10 nearest points within 200 km of a random point
# and prints per test the requests per second of both and the ratio
# strata/redis (medians of $BENCH_ROUNDS paired rounds).  Nothing is
# written to the tree; not a pass/fail test.
#
# Environment:
#   BENCH_N        requests per test (default 100000)
#   BENCH_CLIENTS  parallel clients (default 50)
#   BENCH_PIPELINES pipeline depths (default "1 16")
#   BENCH_ROUNDS   paired rounds, servers alternating (default 3; lib.sh)
#   BENCH_BUILD    build directory (default build-bench)
#   NODE_ARGS, REDIS_ARGS   extra server flags (lib.sh)
set -euo pipefail

# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BUILD="${BENCH_BUILD:-$ROOT/build-bench}"
N="${BENCH_N:-100000}"
CLIENTS="${BENCH_CLIENTS:-50}"
PIPES="${BENCH_PIPELINES:-1 16}"

bench_init bench-hllgeo
bench_build "$BUILD" strata-node

start_node node
NODE_PORT=$PORT
start_redis redis
REDIS_PORT=$PORT

fill() {  # port
  "$PY" - "$1" <<'PYEOF'
import random, sys, redis
c = redis.Redis(port=int(sys.argv[1]), socket_timeout=120)
c.delete("hll", "hll2", "geo", "geo2")
rnd = random.Random(1)
p = c.pipeline(transaction=False)
for key in ("hll", "hll2"):
    for i in range(0, 100000, 1000):
        p.execute_command("PFADD", key, *[f"{key}:{j}" for j in range(i, i + 1000)])
for i in range(0, 100000, 1000):
    args = []
    for j in range(i, i + 1000):
        args += [rnd.uniform(-180, 180), rnd.uniform(-85, 85), f"p:{j}"]
    p.execute_command("GEOADD", "geo", *args)
p.execute()
assert c.zcard("geo") == 100000
assert c.get("hll")[4] == 0, "the HyperLogLog should be dense"
PYEOF
}

# One custom command: "LABEL,rps".  -r 170 keeps __rand_int__ within a
# valid longitude (and latitude) for the geo commands.
bench_cmd() {  # port pipeline label range args...
  local port="$1" pipe="$2" label="$3" range="$4"; shift 4
  redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$N" -P "$pipe" -r "$range" --csv "$@" \
    2>/dev/null | awk -F'","' -v label="$label" 'NR > 1 { gsub(/"/, "", $2); print label "," $2 }'
}

bench_all() {  # port pipeline
  bench_cmd "$1" "$2" PFADD 10000000 PFADD hll "e:__rand_int__"
  bench_cmd "$1" "$2" PFCOUNT 100 PFCOUNT hll
  bench_cmd "$1" "$2" PFCOUNT2 100 PFCOUNT hll hll2
  bench_cmd "$1" "$2" GEOADD 170 GEOADD geo2 __rand_int__ 45.5 "m:__rand_int__"
  bench_cmd "$1" "$2" GEOSEARCH 170 GEOSEARCH geo FROMLONLAT __rand_int__ 10.5 BYRADIUS 200 km ASC COUNT 10
}

echo "strata-node on port $NODE_PORT (${NODE_ARGS:-default settings}); $(redis-server --version | cut -d' ' -f1-3) on port $REDIS_PORT (--save \"\" --appendonly no ${REDIS_ARGS:-})"
echo "redis-benchmark -c $CLIENTS -n $N; $(nproc) cores"
fill "$NODE_PORT"
fill "$REDIS_PORT"
for pipe in $PIPES; do
  echo
  echo "pipeline $pipe:"
  : >"$TMP/node.csv"
  : >"$TMP/redis.csv"
  for _ in $(seq "$ROUNDS"); do
    bench_all "$NODE_PORT" "$pipe" >>"$TMP/node.csv"
    bench_all "$REDIS_PORT" "$pipe" >>"$TMP/redis.csv"
  done
  ratio_table "$TMP/node.csv" "$TMP/redis.csv"
done
