#!/usr/bin/env bash
# tests/bench/bench_repl.sh: the cost of replication on strata-node.
#
#   bash tests/bench/bench_repl.sh            SET throughput (redis-benchmark, 50 clients,
#                                             pipeline 1 and 16) with no replica, one
#                                             asynchronous replica and one semi-synchronous
#                                             replica (min_replica_acks 1), as ratios to
#                                             the no-replica figure; replication lag
#                                             p50/p99 (records and ms) sampled from the
#                                             master's INFO during the runs
#   bash tests/bench/bench_repl.sh fullsync   load FULLSYNC_BYTES into a master, attach a
#                                             fresh replica, report the full-sync speed
#   bash tests/bench/bench_repl.sh all        both
#
# Builds a Release strata-node in build-repl-rel/, runs everything on free
# loopback ports in a temporary directory (nothing is written to the tree).
# Not a pass/fail test.
#
# Environment:
#   BENCH_N          SET requests at pipeline 1 (default 200000; x4 at pipeline 16)
#   BENCH_CLIENTS    parallel clients (default 50)
#   NODE_ARGS        extra flags for every node (default: none, i.e. fsync everysec)
#   FULLSYNC_BYTES   dataset for the full-sync run (default 2GiB, 16 KiB values)
#   BENCH_SKIP_BUILD if set, use the strata-node already in build-repl-rel/
set -euo pipefail

MODE="${1:-throughput}"
# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BUILD="$ROOT/build-repl-rel"
N="${BENCH_N:-200000}"
CLIENTS="${BENCH_CLIENTS:-50}"

bench_init bench-repl
if [ -n "${BENCH_SKIP_BUILD:-}" ] && [ -x "$BUILD/bin/strata-node" ]; then
  echo "bench_repl: using the existing $BUILD/bin/strata-node (BENCH_SKIP_BUILD)"
else
  bench_build "$BUILD" strata-node
fi

info_field() {  # port field
  redis-cli -p "$1" INFO replication | tr -d '\r' | awk -F: -v f="$2" '$1 == f { print $2 }'
}

wait_online() {  # master port, bounded
  for _ in $(seq 1 600); do
    redis-cli -p "$1" INFO replication | grep -q 'state=online' && return 0
    sleep 0.1
  done
  echo "bench_repl: replica never came online"; exit 1
}

wait_caught_up() {  # master port
  for _ in $(seq 1 3000); do
    local s; s="$(redis-cli -p "$1" INFO replication | tr -d '\r' | grep '^slave0:' || true)"
    if [ -n "$s" ] && echo "$s" | grep -q 'lag_records=0,' && echo "$s" | grep -q 'state=online'; then return 0; fi
    sleep 0.1
  done
  echo "bench_repl: replica did not catch up"; exit 1
}

# Samples slave0's lag from the master's INFO every 10 ms until the stop
# file appears; prints "p50_records p99_records p50_ms p99_ms samples".
cat >"$TMP/lag.py" <<'EOF'
import os, sys, time
import redis
port, stop = int(sys.argv[1]), sys.argv[2]
c = redis.Redis(port=port, socket_timeout=5)
recs, ms = [], []
deadline = time.monotonic() + 600
while not os.path.exists(stop) and time.monotonic() < deadline:
    s = c.info("replication").get("slave0")
    if s:
        recs.append(int(s["lag_records"])); ms.append(int(s["lag_ms"]))
    time.sleep(0.01)
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))] if v else -1
print(pct(recs, .5), pct(recs, .99), pct(ms, .5), pct(ms, .99), len(recs))
EOF

bench_set() {  # port pipeline requests -> rps
  redis-benchmark -h 127.0.0.1 -p "$1" -t set -c "$CLIENTS" -n "$3" -P "$2" -r 1000000 --csv 2>/dev/null |
    awk -F'","' 'NR > 1 { gsub(/"/, "", $2); print $2 }'
}

declare -A RPS LAG
scenario() {  # name: none | async | semisync
  local name="$1" mport mpid rport="" p n
  case "$name" in
    semisync) start_node "m-$name" --min_replica_acks 1 --replica_ack_timeout_ms 2000 ;;
    *) start_node "m-$name" ;;
  esac
  mport="$PORT"; mpid="$PID"
  if [ "$name" != none ]; then
    start_node "r-$name" --replicaof "127.0.0.1:$mport"
    rport="$PORT"
    wait_online "$mport"
  fi
  for p in 1 16; do
    n="$N"; [ "$p" = 1 ] || n=$((N * 4))
    rm -f "$TMP/stop"
    if [ -n "$rport" ]; then
      "$PY" "$TMP/lag.py" "$mport" "$TMP/stop" >"$TMP/lag-$name-$p" &
      local lagpid=$!
    fi
    RPS["$name,$p"]="$(bench_set "$mport" "$p" "$n")"
    if [ -n "$rport" ]; then
      touch "$TMP/stop"; wait "$lagpid" || true
      LAG["$name,$p"]="$(cat "$TMP/lag-$name-$p")"
      wait_caught_up "$mport"
    fi
  done
  if [ -n "$rport" ]; then
    echo "  $name: master lsn $(info_field "$mport" lsn), replica lsn $(info_field "$rport" lsn)," \
         "semi-sync timeouts $(info_field "$mport" semi_sync_timeouts)"
  fi
  stop_pid "$mpid"
  [ -z "$rport" ] || stop_pid "$PID"
}

throughput() {
  echo "SET, redis-benchmark -c $CLIENTS -r 1000000, n=$N (x4 at P16), ${NODE_ARGS:-fsync everysec}; $(nproc) cores"
  local s
  for s in none async semisync; do scenario "$s"; done
  echo
  printf '%-9s %3s %12s %8s %22s %18s\n' mode P "SET rps" ratio "lag records p50/p99" "lag ms p50/p99"
  local p
  for p in 1 16; do
    for s in none async semisync; do
      local r="${RPS[$s,$p]}" base="${RPS[none,$p]}" lag="-" lagms="-"
      if [ "$s" != none ]; then
        read -r a b c d _ <<<"${LAG[$s,$p]}"
        lag="$a/$b"; lagms="$c/$d"
      fi
      printf '%-9s %3s %12.0f %8.2f %22s %18s\n' "$s" "$p" "$r" \
        "$(awk -v a="$r" -v b="$base" 'BEGIN { print (b > 0 ? a / b : 0) }')" "$lag" "$lagms"
    done
  done
}

fullsync() {
  local bytes="${FULLSYNC_BYTES:-2GiB}"
  start_node m-full
  local mport="$PORT" mpid="$PID"
  echo "loading $bytes of incompressible 16 KiB values into the master..."
  "$PY" "$ROOT/tests/bench/node_load.py" --port "$mport" --pid "$mpid" --bytes "$bytes" | tail -n 3
  echo "master data directory: $(du -sh "$TMP/m-full" | cut -f1)"
  local t0 t1
  t0="$(date +%s.%N)"
  start_node r-full --replicaof "127.0.0.1:$mport"
  local rport="$PORT"
  for _ in $(seq 1 6000); do
    [ "$(info_field "$rport" repl_full_syncs)" = 1 ] && [ "$(info_field "$rport" master_link_status)" = up ] && break
    sleep 0.1
  done
  t1="$(date +%s.%N)"
  echo "master:  $(grep 'snapshot at lsn' "$TMP/m-full.log" | tail -n 1 | sed 's/.*INFO node\[[0-9]*\] //')"
  echo "replica: $(grep 'full sync done' "$TMP/r-full.log" | tail -n 1 | sed 's/.*INFO node\[[0-9]*\] //')"
  echo "replica data directory: $(du -sh "$TMP/r-full" | cut -f1)"
  awk -v a="$t0" -v b="$t1" -v d="$(du -sb "$TMP/m-full" | cut -f1)" \
    'BEGIN { printf "end to end (replica start to link up): %.1f s, %.1f MB/s of master data directory\n", b - a, d / 1e6 / (b - a) }'
}

case "$MODE" in
  throughput) throughput ;;
  fullsync) fullsync ;;
  all) throughput; echo; fullsync ;;
  *) echo "usage: $0 [throughput|fullsync|all]" >&2; exit 2 ;;
esac
