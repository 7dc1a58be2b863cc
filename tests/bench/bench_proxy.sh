#!/usr/bin/env bash
# bench_proxy.sh: strata-proxy vs twemproxy (nutcracker), side by side in one
# run, in front of the same two redis-server backends, plus a 1,000-key MGET
# spread over two groups vs the same MGET sent straight to one redis-server,
# and a RESP3 run (redis-benchmark -3; nutcracker has no RESP3) of strata-
# proxy vs one redis-server straight.
#
#   tests/bench/bench_proxy.sh [BIN_DIR]       (default: build/bin; use a Release build)
#
# Environment: N (requests per test, default 100000), CLIENTS (50),
# THREADS (strata-proxy worker threads, default 1), MGET_N (2000), RESP3 (1:
# run the RESP3 comparison, the default; 0: skip it).
# Prints requests/s and the ratio strata/nutcracker for each test at
# pipeline 1 and 16.  Not a pass/fail test: it reports figures.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${1:-$ROOT/build/bin}
N=${N:-100000}
CLIENTS=${CLIENTS:-50}
THREADS=${THREADS:-1}
MGET_N=${MGET_N:-2000}
TESTS=set,get,lpush,lrange_100,mset

for tool in redis-server redis-benchmark redis-cli nutcracker python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
[ -x "$BIN/strata-proxy" ] || { echo "no $BIN/strata-proxy (build it first)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/strata-bench-proxy.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {  # port: poll until it answers PING (max 10 s)
    for _ in $(seq 1 200); do
        redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "port $1 did not come up" >&2
    exit 1
}

start_redis() {
    local port=$1
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$WORK" --logfile "$WORK/redis-$port.log" &
    PIDS+=($!)
    wait_port "$port"
}

R1=$(free_port); R2=$(free_port); RD=$(free_port); SP=$(free_port); NP=$(free_port)
start_redis "$R1"
start_redis "$R2"
start_redis "$RD"

cat > "$WORK/topology.yaml" <<YAML
cluster: bench
groups:
  - name: g1
    slots: "0-8191"
    nodes: [127.0.0.1:$R1]
  - name: g2
    slots: "8192-16383"
    nodes: [127.0.0.1:$R2]
proxy:
  listen: 127.0.0.1:$SP
  threads: $THREADS
  log_level: warning
YAML
"$BIN/strata-proxy" --config "$WORK/topology.yaml" --log "$WORK/proxy.log" &
PIDS+=($!)
wait_port "$SP"

cat > "$WORK/nutcracker.yml" <<YAML
bench:
  listen: 127.0.0.1:$NP
  hash: fnv1a_64
  distribution: ketama
  redis: true
  preconnect: true
  servers:
    - 127.0.0.1:$R1:1
    - 127.0.0.1:$R2:1
YAML
nutcracker -c "$WORK/nutcracker.yml" -o "$WORK/nutcracker.log" &
PIDS+=($!)
wait_port "$NP"

# requests/s of one test, from redis-benchmark's CSV output
bench1() {  # port pipeline test [redis-benchmark flags...]
    local port=$1 pipe=$2 test=$3
    shift 3
    redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$N" -P "$pipe" -t "$test" "$@" --csv -q 2>/dev/null |
        awk -F'","' 'NR > 1 { gsub(/"/, "", $1); gsub(/"/, "", $2);
                               if ($1 ~ /needed/) next; print $2 }' | tail -1
}
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }

# The machine is shared: each test runs strata and nutcracker alternately,
# ROUNDS times, and keeps the best figure of each, so a burst of load from
# elsewhere does not land on one side only.
ROUNDS=${ROUNDS:-2}
echo "strata-proxy ($THREADS thread(s)) vs nutcracker, 2 redis-server backends,"
echo "$CLIENTS clients, $N requests per test, best of $ROUNDS alternating runs"
for P in 1 16; do
    echo
    printf "pipeline %-3s %-12s %14s %14s %8s\n" "$P" "test" "strata rps" "nutcracker rps" "ratio"
    for T in ${TESTS//,/ }; do
        s=0; n=0
        for _ in $(seq 1 "$ROUNDS"); do
            s=$(max "$s" "$(bench1 "$SP" "$P" "$T")")
            n=$(max "$n" "$(bench1 "$NP" "$P" "$T")")
        done
        awk -v P="$P" -v T="$T" -v s="$s" -v n="$n" \
            'BEGIN { printf "pipeline %-3s %-12s %14.0f %14.0f %8.2f\n", P, T, s, n, (n > 0 ? s / n : 0) }'
    done
done

# MGET of 1,000 keys: through strata-proxy (two groups) vs one redis-server.
/usr/bin/python3 - "$SP" "$RD" "$WORK/mget.args" <<'PY'
import sys, redis
sp, rd, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
keys = [f"mget:{i}" for i in range(1000)]
for port in (sp, rd):
    r = redis.Redis(port=port)
    for i in range(0, 1000, 100):
        r.mset({k: "v" * 16 for k in keys[i:i + 100]})
    assert r.mget(keys) == [b"v" * 16] * 1000
open(out, "w").write(" ".join(keys))
PY
mget_rps() {  # port
    # shellcheck disable=SC2046
    redis-benchmark -h 127.0.0.1 -p "$1" -c "$CLIENTS" -n "$MGET_N" --csv -q MGET $(cat "$WORK/mget.args") 2>/dev/null |
        awk -F'","' 'NR > 1 { gsub(/"/, "", $2); print $2 }'
}
S=0; D=0
for _ in $(seq 1 "$ROUNDS"); do
    S=$(max "$S" "$(mget_rps "$SP")")
    D=$(max "$D" "$(mget_rps "$RD")")
done
echo
awk -v s="$S" -v d="$D" 'BEGIN {
    printf "MGET 1000 keys: strata-proxy (2 groups) %.0f rps, redis-server direct %.0f rps, ratio %.2f (direct/strata %.2fx)\n",
           s, d, (d > 0 ? s / d : 0), (s > 0 ? d / s : 0) }'

# RESP3: every client opens with HELLO 3, so the proxy runs its RESP3 links.
if [ "${RESP3:-1}" = 1 ]; then
    echo
    echo "RESP3 (redis-benchmark -3): strata-proxy (2 groups) vs one redis-server direct"
    for P in 1 16; do
        echo
        printf "pipeline %-3s %-12s %14s %14s %8s\n" "$P" "test" "strata rps" "redis rps" "ratio"
        for T in ${TESTS//,/ }; do
            s=0; d=0
            for _ in $(seq 1 "$ROUNDS"); do
                s=$(max "$s" "$(bench1 "$SP" "$P" "$T" -3)")
                d=$(max "$d" "$(bench1 "$RD" "$P" "$T" -3)")
            done
            awk -v P="$P" -v T="$T" -v s="$s" -v d="$d" \
                'BEGIN { printf "pipeline %-3s %-12s %14.0f %14.0f %8.2f\n", P, T, s, d, (d > 0 ? s / d : 0) }'
        done
    done
fi
