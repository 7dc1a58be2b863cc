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
#   start_proxy NAME CONFIG PORT  strata-proxy from $BUILD/bin with the
#                            topology CONFIG; waits for its listen PORT;
#                            sets PID
#   bench_certs              a CA and certificates it signed, in $TMP/tls:
#                            ca.crt, server.crt/key (127.0.0.1, localhost),
#                            client.crt/key; sets CERTS
#   ROUNDS                   paired rounds per table ($BENCH_ROUNDS, default 3)
#   ratio_table A B          from "TEST,rps" lines, one per test and round,
#                            strata's in A and redis-server's in B (round k
#                            of a test in A paired with round k in B): per
#                            test the median rps of each, the median of the
#                            paired ratios and their range
#   paired_table LABEL=FILE.. -- NUM/DEN..  the same for any number of
#                            files: the median rps of each, and for each
#                            NUM/DEN pair of labels the median and range of
#                            the paired ratios
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

start_proxy() {  # name config port
  "$BUILD/bin/strata-proxy" --config "$2" >"$TMP/$1.log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  wait_ping "$3" "$PID" "$1"
}

bench_certs() {
  CERTS="$TMP/tls"
  mkdir -p "$CERTS"
  (
    cd "$CERTS" || exit 1
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
      -subj "/CN=Strata Bench CA" 2>/dev/null
    echo "subjectAltName=DNS:localhost,IP:127.0.0.1" >server.ext
    for name in server client; do
      ext=()
      [ "$name" = server ] && ext=(-extfile server.ext)
      openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=$name" 2>/dev/null
      openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$name.crt" \
        -days 2 "${ext[@]}" 2>/dev/null
    done
  )
  [ -s "$CERTS/client.crt" ] || { echo "$BENCH_NAME: openssl did not make the certificates"; exit 1; }
}

ratio_table() {  # strata.csv redis.csv
  paired_table "strata=$1" "redis=$2" -- strata/redis
}

paired_table() {  # label=file... -- num/den...
  "$PY" - "$@" <<'EOF'
import statistics, sys
def load(path):
    runs = {}
    for line in open(path):
        name, _, rps = line.strip().rpartition(",")
        if name:
            runs.setdefault(name, []).append(float(rps or 0))
    return runs
args = sys.argv[1:]
sep = args.index("--")
cols = {}
for a in args[:sep]:
    label, _, path = a.partition("=")
    cols[label] = load(path)
ratios = [r.split("/") for r in args[sep + 1:]]
# One ratio keeps ratio_table's header; several are named by their labels.
rnames = ["ratio"] if len(ratios) == 1 else [f"{n}/{d}" for n, d in ratios]
cw = {c: max(12, len(c) + 4) for c in cols}
rw = [max(6, len(n)) for n in rnames]
print(f"{'test':<20}" + "".join(f" {c + ' rps':>{cw[c]}}" for c in cols)
      + "".join(f" {n:>{w}}  {'range':<11}" for n, w in zip(rnames, rw)) + " rounds")
for name in sorted(set.intersection(*(set(v) for v in cols.values()))):
    if not any(y > 0 for _, d in ratios for y in cols[d][name]):
        continue  # no figure to compare with (ratio_table's rule)
    line, rounds = f"{name:<20}", None
    for c, v in cols.items():
        ok = [x for x in v[name] if x > 0]
        line += f" {statistics.median(ok) if ok else 0:>{cw[c]}.0f}"
    for (n, d), w in zip(ratios, rw):
        # Round k of one column paired with round k of the other.
        pr = [x / y for x, y in zip(cols[n][name], cols[d][name]) if y > 0]
        rounds = len(pr) if rounds is None else min(rounds, len(pr))
        if pr:
            line += f" {statistics.median(pr):>{w}.2f}  {f'{min(pr):.2f}-{max(pr):.2f}':<11}"
        else:
            line += f" {'-':>{w}}  {'':<11}"
    print(line + f" {rounds}")
EOF
}
