#!/usr/bin/env bash
# tests/bench/bench_node.sh: strata-node against redis-server, side by side.
#
#   bash tests/bench/bench_node.sh        throughput: redis-benchmark on both
#   bash tests/bench/bench_node.sh rss    load >= 4 GiB into the node, report its peak RSS
#
# Builds a Release strata-node in build-bench/, starts it and a redis-server
# on free loopback ports in a temporary directory, and prints the figures
# (nothing is written to the tree).  Not a pass/fail test.
#
# Environment:
#   BENCH_N        requests per test at pipeline 1 (default 200000; x4 at pipeline 16)
#   BENCH_TESTS    redis-benchmark tests (default set,get,incr,mset)
#   BENCH_CLIENTS  parallel clients (default 50)
#   BENCH_PROTOS   protocols to run each table in (default "2 3": RESP2, then
#                  RESP3 through redis-benchmark -3, which sends HELLO 3 on
#                  each connection)
#   BENCH_ROUNDS   paired rounds, servers alternating (default 3; lib.sh)
#   NODE_ARGS      extra strata-node flags (default: none, i.e. fsync everysec)
#   REDIS_ARGS     extra redis-server flags (default: no RDB snapshots, no AOF)
#   RSS_BYTES      bytes of values to load in rss mode (default 4GiB)
set -euo pipefail

MODE="${1:-throughput}"
# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BUILD="$ROOT/build-bench"
N="${BENCH_N:-200000}"
TESTS="${BENCH_TESTS:-set,get,incr,mset}"
CLIENTS="${BENCH_CLIENTS:-50}"
PROTOS="${BENCH_PROTOS:-2 3}"

bench_init bench-node
bench_build "$BUILD" strata-node

start_strata() { start_node node; NODE_PORT=$PORT; NODE_PID=$PID; }
start_reference() { start_redis redis; REDIS_PORT=$PORT; REDIS_PID=$PID; }

# "TEST,rps" lines from a redis-benchmark --csv run.
bench() {  # port pipeline requests protocol
  local resp3=()
  [ "$4" = 3 ] && resp3=(-3)
  redis-benchmark -h 127.0.0.1 -p "$1" -t "$TESTS" -c "$CLIENTS" -n "$3" -P "$2" \
    -r 100000 "${resp3[@]}" --csv 2>/dev/null |
    awk -F'","' 'NR > 1 { gsub(/"/, "", $1); gsub(/"/, "", $2); split($1, t, " "); print t[1] "," $2 }'
}

throughput() {
  start_strata
  start_reference
  echo "strata-node $("$BUILD/bin/strata-node" --version 2>&1 | head -1) on port $NODE_PORT (${NODE_ARGS:-default settings})"
  echo "$(redis-server --version | cut -d' ' -f1-3) on port $REDIS_PORT (--save \"\" --appendonly no ${REDIS_ARGS:-})"
  echo "redis-benchmark -t $TESTS -c $CLIENTS -r 100000; $(nproc) cores"
  echo
  local p n r proto
  for proto in $PROTOS; do
    for p in 1 16; do
      n="$N"; [ "$p" = 1 ] || n=$((N * 4))
      : >"$TMP/node.csv"; : >"$TMP/redis.csv"
      for r in $(seq "$ROUNDS"); do
        bench "$NODE_PORT" "$p" "$n" "$proto" >>"$TMP/node.csv"
        bench "$REDIS_PORT" "$p" "$n" "$proto" >>"$TMP/redis.csv"
      done
      echo "RESP$proto, pipeline $p:"
      ratio_table "$TMP/node.csv" "$TMP/redis.csv"
    done
  done
  echo
  echo "node peak RSS (VmHWM): $(awk '/VmHWM/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$NODE_PID/status")"
}

rss() {
  start_strata
  echo "strata-node on port $NODE_PORT (pid $NODE_PID, ${NODE_ARGS:-default settings}), data in $TMP/node"
  echo "loading ${RSS_BYTES:-4GiB} of incompressible 16 KiB values..."
  local rc=0
  "$PY" "$ROOT/tests/bench/node_load.py" --port "$NODE_PORT" --pid "$NODE_PID" \
    --bytes "${RSS_BYTES:-4GiB}" || rc=$?
  echo "data directory: $(du -sh "$TMP/node" | cut -f1)"
  echo "$(grep -c . "$TMP/node.log") log lines; last: $(tail -n 1 "$TMP/node.log")"
  return "$rc"
}

case "$MODE" in
  throughput) throughput ;;
  rss) rss ;;
  *) echo "usage: $0 [throughput|rss]" >&2; exit 2 ;;
esac
