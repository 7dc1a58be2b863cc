# tests/bench/lib.sh: shared set-up of the benchmark scripts (sourced).
#
#   bench_init NAME          temp dir $TMP, process list, cleanup on exit
#   bench_build DIR TARGET.. Release build of the targets into DIR
#   free_port                a free loopback port
#   wait_ping PORT PID NAME  poll until the server answers PING
#   stop_pid PID             SIGTERM, wait, SIGKILL after 30 s
#   start_node NAME [FLAG..] strata-node from $BUILD/bin in $TMP/NAME with
#                            $NODE_ARGS; sets PORT and PID
#   start_redis NAME [FLAG..] redis-server without persistence, with
#                            $REDIS_ARGS; sets PORT and PID
#   ROUNDS                   paired rounds per table ($BENCH_ROUNDS, default 3)
#   ratio_table A B          from "TEST,rps" lines, one per test and round,
#                            strata's in A and redis-server's in B (round k
#                            of a test in A paired with round k in B): per
#                            test the median rps of each, the median of the
#                            paired ratios and their range
#
# Every process started here is stopped when the script exits.  Nothing is
# written to the tree.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY=/usr/bin/python3
PIDS=()
# The machine is shared and redis-server's own rate moves by up to 2x
# between runs (767k-1.34M SET/s at pipeline 16 in one session): a single
# pair of runs says little, so each table alternates the two servers for
# several rounds and reports the median of the paired ratios.
ROUNDS="${BENCH_ROUNDS:-3}"

bench_init() {  # name
  BENCH_NAME="$1"
  TMP="$(mktemp -d "/tmp/strata-$1.XXXXXX")"
  trap bench_cleanup EXIT
}

bench_build() {  # dir target...
  local dir="$1"; shift
  echo "$BENCH_NAME: building Release $* in $dir"
  cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DSTRATA_TESTS=OFF >/dev/null
  local t
  for t in "$@"; do cmake --build "$dir" -j 2 --target "$t" >/dev/null; done
}

stop_pid() {  # pid
  # Only a process this script started and that still runs: a pid stopped
  # earlier (bench_repl stops nodes mid-run) may since belong to another
  # program, such as a benchmark another script is running.
  [ "$(awk '{ print $4 }' "/proc/$1/stat" 2>/dev/null)" = "$$" ] || return 0
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
}

bench_cleanup() {
  local p
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  rm -rf "$TMP"
}

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_ping() {  # port pid name
  for _ in $(seq 1 150); do
    kill -0 "$2" 2>/dev/null || { echo "$BENCH_NAME: $3 exited; log:"; tail "$TMP/$3.log"; exit 1; }
    redis-cli -p "$1" PING 2>/dev/null | grep -q PONG && return 0
    sleep 0.1
  done
  echo "$BENCH_NAME: $3 does not answer on port $1"; exit 1
}

start_node() {  # name [flags...]
  local name="$1"; shift
  PORT="$(free_port)"
  # shellcheck disable=SC2086 # NODE_ARGS is split on purpose
  "$BUILD/bin/strata-node" --port "$PORT" --bind 127.0.0.1 --dir "$TMP/$name" ${NODE_ARGS:-} "$@" \
    >"$TMP/$name.log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  wait_ping "$PORT" "$PID" "$name"
}

start_redis() {  # name [flags...]
  local name="$1"; shift
  PORT="$(free_port)"
  mkdir -p "$TMP/$name"
  # shellcheck disable=SC2086 # REDIS_ARGS is split on purpose
  redis-server --port "$PORT" --bind 127.0.0.1 --dir "$TMP/$name" --save "" --appendonly no \
    ${REDIS_ARGS:-} "$@" >"$TMP/$name.log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  wait_ping "$PORT" "$PID" "$name"
}

ratio_table() {  # strata.csv redis.csv
  "$PY" - "$1" "$2" <<'EOF'
import statistics, sys
def load(path):
    runs = {}
    for line in open(path):
        name, _, rps = line.strip().rpartition(",")
        if name:
            runs.setdefault(name, []).append(float(rps))
    return runs
a, b = load(sys.argv[1]), load(sys.argv[2])
print(f"{'test':<20} {'strata rps':>12} {'redis rps':>12} {'ratio':>6}  {'range':<11} rounds")
for name in sorted(set(a) & set(b)):
    pairs = [(x, y) for x, y in zip(a[name], b[name]) if y > 0]
    if not pairs:
        continue
    ratios = [x / y for x, y in pairs]
    print(f"{name:<20} {statistics.median(x for x, _ in pairs):>12.0f} "
          f"{statistics.median(y for _, y in pairs):>12.0f} {statistics.median(ratios):>6.2f}  "
          f"{min(ratios):.2f}-{max(ratios):.2f}  {len(pairs)}")
EOF
}
