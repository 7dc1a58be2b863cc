#!/usr/bin/env bash
# tests/bench/bench_scripting.sh: scripting on strata-node beside redis-server.
#
#   bash tests/bench/bench_scripting.sh
#
# Builds a Release strata-node in build-bench/, starts it and a redis-server
# on free loopback ports, and runs redis-benchmark on both, rounds
# alternating (lib.sh), at pipeline 1 and 16:
#   evalsha_set    EVALSHA of `return redis.call('set', KEYS[1], ARGV[1])`
#   set            plain SET, for strata's own rate beside the script's
#   script_N       one EVALSHA making N SETs (BENCH_SCRIPT_N, default 10),
#                  over as many distinct keys (100000) as the SETs write
#   set_xN         N separate SETs: the set rate divided by N, in scripts/s
# The tables print each server's median rate and the paired ratio
# strata/redis; the last lines print strata's evalsha_set / set and
# script_N / set_xN ratios.  Not a pass/fail test; nothing is written to
# the tree.
#
# Environment: BENCH_N (requests at pipeline 1, default 100000; x4 at 16),
# BENCH_CLIENTS (default 50), BENCH_ROUNDS (default 3), NODE_ARGS, REDIS_ARGS.
set -euo pipefail

# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BUILD="$ROOT/build-bench"
N="${BENCH_N:-100000}"
CLIENTS="${BENCH_CLIENTS:-50}"
SN="${BENCH_SCRIPT_N:-10}"

bench_init bench-scripting
bench_build "$BUILD" strata-node
start_node node; NODE_PORT=$PORT
start_redis redis; REDIS_PORT=$PORT

ONE="return redis.call('set', KEYS[1], ARGV[1])"
MANY="for i = 1, $SN do redis.call('set', KEYS[1] .. ':' .. i, ARGV[1]) end return 1"
for p in "$NODE_PORT" "$REDIS_PORT"; do
  SHA1=$(redis-cli -p "$p" SCRIPT LOAD "$ONE")
  SHAN=$(redis-cli -p "$p" SCRIPT LOAD "$MANY")
done

rps() {  # port pipeline requests keyspace args...: the rate redis-benchmark reports
  local port="$1" pipe="$2" n="$3" r="$4"; shift 4
  redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$n" -P "$pipe" -r "$r" --csv "$@" 2>/dev/null |
    awk -F'","' 'NR > 1 { gsub(/"/, "", $2); print $2; exit }'
}

echo "strata-node on port $NODE_PORT (${NODE_ARGS:-default settings}), $(redis-server --version | cut -d' ' -f1-3) on port $REDIS_PORT"
echo "redis-benchmark -c $CLIENTS, 100000 distinct keys; $(nproc) cores; script_$SN makes $SN SETs"
for pipe in 1 16; do
  n="$N"; [ "$pipe" = 1 ] || n=$((N * 4))
  : >"$TMP/node.csv"; : >"$TMP/redis.csv"
  for _ in $(seq "$ROUNDS"); do
    for side in node redis; do
      port=$NODE_PORT; [ "$side" = redis ] && port=$REDIS_PORT
      out="$TMP/$side.csv"
      echo "evalsha_set,$(rps "$port" "$pipe" "$n" 100000 EVALSHA "$SHA1" 1 'k:__rand_int__' v)" >>"$out"
      s=$(rps "$port" "$pipe" "$n" 100000 SET 'k:__rand_int__' v)
      echo "set,$s" >>"$out"
      echo "script_$SN,$(rps "$port" "$pipe" $((n / SN)) $((100000 / SN)) EVALSHA "$SHAN" 1 'm:__rand_int__' v)" >>"$out"
      echo "set_x$SN,$(awk -v s="$s" -v k="$SN" 'BEGIN { printf "%.0f", s / k }')" >>"$out"
    done
  done
  echo
  echo "pipeline $pipe ($n requests)"
  ratio_table "$TMP/node.csv" "$TMP/redis.csv"
  "$PY" - "$TMP/node.csv" "$SN" <<'EOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, _, v = line.strip().rpartition(",")
    if name and v:
        runs.setdefault(name, []).append(float(v))
k = sys.argv[2]
m = {n: statistics.median(v) for n, v in runs.items()}
print(f"strata: evalsha_set / set = {m['evalsha_set'] / m['set']:.2f}; "
      f"script_{k} / set_x{k} = {m['script_' + k] / m['set_x' + k]:.2f} (above 1: the script is cheaper)")
EOF
done
