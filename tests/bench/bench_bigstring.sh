#!/usr/bin/env bash
# tests/bench/bench_bigstring.sh: big strings and bitmaps, strata-node
# against redis-server side by side.
#
#   bash tests/bench/bench_bigstring.sh
#
# Builds a Release strata-node (in $BENCH_BUILD, default build-bench/),
# starts it and a redis-server on free loopback ports in a temporary
# directory, writes a 16 MiB string "big" and a 16 MiB bitmap "bm" on both
# (strata stores them in 16 KiB chunks) and prints requests per second and
# the ratio strata/redis, as redis-benchmark custom commands:
#   APPEND big <100 bytes>          (the string keeps growing)
#   SETRANGE big 8000000 <100 bytes>
#   GETRANGE big 8000000 8000099
#   SETBIT bm 100000000 1, BITCOUNT bm 1000000 1001023
#     at pipeline 1 and at pipeline 16
# Then event-loop stalls: a client PINGs each server every millisecond
# while another runs, 1 s apart, GET big, BITCOUNT bm (whole), APPEND,
# SETRANGE, BITOP NOT of the 16 MiB bitmap and DEL of the keys; the longest
# PING round trip during each command is printed for each server.
# Nothing is written to the tree; not a pass/fail test.
#
# Environment:
#   BENCH_N        requests per test (default 20000)
#   BENCH_CLIENTS  parallel clients (default 50)
#   BENCH_ROUNDS   paired rounds, servers alternating (default 3; lib.sh)
#   BENCH_BUILD    build directory (default build-bench)
#   NODE_ARGS      extra strata-node flags (default: none, i.e. fsync everysec)
#   REDIS_ARGS     extra redis-server flags (default: no RDB snapshots, no AOF)
set -euo pipefail

# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BUILD="${BENCH_BUILD:-$ROOT/build-bench}"
N="${BENCH_N:-20000}"
CLIENTS="${BENCH_CLIENTS:-50}"

bench_init bench-bigstring
bench_build "$BUILD" strata-node

start_node node
NODE_PORT=$PORT
start_redis redis
REDIS_PORT=$PORT

fill() {  # port: a 16 MiB string and a 16 MiB bitmap
  "$PY" - "$1" <<'EOF'
import sys, redis
c = redis.Redis(port=int(sys.argv[1]), socket_timeout=300)
c.delete("big", "bm")
piece = bytes(range(256)) * 256           # 64 KiB
p = c.pipeline(transaction=False)
for i in range(256):
    p.append("big", piece)
    p.append("bm", b"\x55" * 65536)
p.execute()
assert c.strlen("big") == 16 * 1024 * 1024 and c.strlen("bm") == 16 * 1024 * 1024
EOF
}

V100=$(printf 'v%.0s' $(seq 1 100))

one() {  # port label pipeline command...
  local port="$1" label="$2" pipe="$3"; shift 3
  redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$N" -P "$pipe" --csv "$@" 2>/dev/null |
    awk -F'","' -v label="$label" 'NR > 1 { gsub(/"/, "", $2); print label "," $2 }'
}

bench_all() {  # port
  one "$1" APPEND_16M 1 APPEND big "$V100"
  one "$1" SETRANGE_16M 1 SETRANGE big 8000000 "$V100"
  one "$1" GETRANGE_16M 1 GETRANGE big 8000000 8000099
  one "$1" SETBIT_P1 1 SETBIT bm 100000000 1
  one "$1" BITCOUNT_P1 1 BITCOUNT bm 1000000 1001023
  one "$1" SETBIT_P16 16 SETBIT bm 100000000 1
  one "$1" BITCOUNT_P16 16 BITCOUNT bm 1000000 1001023
}

echo "strata-node on port $NODE_PORT (${NODE_ARGS:-default settings}); $(redis-server --version | cut -d' ' -f1-3) on port $REDIS_PORT (--save \"\" --appendonly no ${REDIS_ARGS:-})"
echo "redis-benchmark -c $CLIENTS -n $N; $(nproc) cores"
echo
fill "$NODE_PORT"
fill "$REDIS_PORT"
for r in $(seq "$ROUNDS"); do
  bench_all "$NODE_PORT" >>"$TMP/node.csv"
  bench_all "$REDIS_PORT" >>"$TMP/redis.csv"
done
ratio_table "$TMP/node.csv" "$TMP/redis.csv"
echo

echo "event-loop stalls: the longest PING round trip (a client PINGs every ms) while each"
echo "command runs once on another connection, 1 s apart; and that command's own time:"
"$PY" - "$NODE_PORT" "$REDIS_PORT" <<'EOF'
import sys, threading, time, redis

def stalls(port):
    c = redis.Redis(port=port, socket_timeout=300)
    c.delete("big", "bm", "bm2")
    piece = bytes(range(256)) * 256
    p = c.pipeline(transaction=False)
    for _ in range(256):
        p.append("big", piece)
        p.append("bm", b"\x55" * 65536)
    p.execute()
    time.sleep(1)
    stop, worst, cur = threading.Event(), {}, [""]

    def pinger():
        pc = redis.Redis(port=port, socket_timeout=60)
        while not stop.is_set():
            t = time.perf_counter()
            pc.ping()
            dt = (time.perf_counter() - t) * 1000
            worst[cur[0]] = max(worst.get(cur[0], 0.0), dt)
            time.sleep(0.001)

    th = threading.Thread(target=pinger)
    th.start()
    rows = []
    for name, cmd in [("GET big (16 MiB)", ("GET", "big")), ("BITCOUNT bm (16 MiB)", ("BITCOUNT", "bm")),
                      ("APPEND big", ("APPEND", "big", "x" * 100)),
                      ("SETRANGE big", ("SETRANGE", "big", 9000000, "y" * 100)),
                      ("BITOP NOT (16 MiB)", ("BITOP", "NOT", "bm2", "bm")),
                      ("DEL big", ("DEL", "big")), ("DEL bm bm2", ("DEL", "bm", "bm2"))]:
        cur[0] = name
        t = time.perf_counter()
        c.execute_command(*cmd)
        rows.append((name, (time.perf_counter() - t) * 1000))
        time.sleep(1.0)
    stop.set()
    th.join()
    return [(n, ms, worst.get(n, 0.0)) for n, ms in rows]

a, b = stalls(int(sys.argv[1])), stalls(int(sys.argv[2]))
print(f"  {'command':<22} {'strata cmd':>10} {'stall':>8}   {'redis cmd':>10} {'stall':>8}  (ms)")
for (n, ams, ast), (_, bms, bst) in zip(a, b):
    print(f"  {n:<22} {ams:10.1f} {ast:8.1f}   {bms:10.1f} {bst:8.1f}")
EOF
