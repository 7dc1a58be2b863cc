#!/usr/bin/env bash
# tests/bench/bench_scale.sh: strata-node against redis-server on a dataset
# far larger than every cache the node keeps (issue 20).  Not a pass/fail
# test.
#
#   1. load: SCALE_KEYS SETs of 100-byte values over a key space of
#      SCALE_KEYS keys (redis-benchmark -t set -r SCALE_KEYS -P 32; 20M SETs
#      leave about 12.6M distinct keys), into redis-server then into the
#      node, each timed; the node's RssAnon/RssFile are sampled each second.
#   2. throughput, servers alternating for BENCH_ROUNDS rounds, pipeline 1
#      and 16, random keys over the whole key space (-r SCALE_KEYS):
#        get, set            the loaded strings ("key:" and 12 digits)
#        hset, hget          HSET h:R f R / HGET h:R f: one-field hashes,
#                            one per random key R, created by the HSET runs
#        zadd                ZADD z:R R m:R: one zset a random key, random
#                            member and score
#        lpush               LPUSH l:R v: one list a random key
#      The collection tests run on key spaces of their own next to the
#      strings, so the node's lookups go through the same LevelDB (and
#      caches) holding the 12.6M strings.  Ratios, p99 latencies, and the
#      node's RssAnon/RssFile.
#   3. the same GET and SET tests on a fresh node holding 100k keys (the
#      node's own small-dataset rate the issue compares with).
#   4. the floor: the node is stopped and leveldb_floor.c does random
#      leveldb_get on its data directory with the node's options, one
#      thread: the storage engine's own cost of a GET.
#   5. cgroup: the node restarted on the same data in a cgroup v2 whose
#      memory.max (which charges page cache too) is a quarter of the data
#      directory's size, and GET/SET at pipeline 1 and 16 again.  Needs a
#      cgroup2 mount with the memory controller (SCALE_CGROUP2, default:
#      found in /proc/mounts), or else a cgroup v1 memory hierarchy
#      (memory.limit_in_bytes, SCALE_CGROUP1); skipped, saying why, when
#      there is neither.
#
# Environment:
#   SCALE_KEYS     SETs loaded and the key space (default 20000000)
#   SCALE_N        requests per test at pipeline 1 (default 200000; x4 at 16)
#   BENCH_ROUNDS   paired rounds (default 3; lib.sh)
#   BENCH_CLIENTS  parallel clients (default 50)
#   NODE_ARGS      extra strata-node flags (default: none, the defaults)
#   FLOOR_GETS     gets per floor pass (default 2000000)
#   SCALE_CGROUP   0 skips the cgroup case (default 1)
#   SCALE_CGROUP2  a cgroup2 mount point with the memory controller
#   SCALE_CGROUP1  a cgroup v1 memory hierarchy (used when v2 has none)
#   BENCH_BUILD    the Release build directory (default build-bench)
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BUILD="${BENCH_BUILD:-$ROOT/build-bench}"
KEYS="${SCALE_KEYS:-20000000}"
N="${SCALE_N:-200000}"
CLIENTS="${BENCH_CLIENTS:-50}"

bench_init bench-scale
bench_build "$BUILD" strata-node
cc -O2 -Wall -Wextra -Werror -o "$TMP/leveldb_floor" "$ROOT/tests/bench/leveldb_floor.c" -lleveldb

mem_of() {  # pid: "RssAnon X MiB, RssFile Y MiB"
  awk '/^RssAnon|^RssFile/ { printf "%s%s %.1f MiB", sep, $1, $2 / 1024; sep = ", " }' "/proc/$1/status" | tr -d :
}

# Peak RssAnon and RssFile of pid, sampled every second until stopped.
sample_start() {  # pid file
  ( peak_a=0; peak_f=0
    while kill -0 "$1" 2>/dev/null; do
      read -r a f < <(awk '/^RssAnon/ { a = $2 } /^RssFile/ { f = $2 } END { print a + 0, f + 0 }' "/proc/$1/status" 2>/dev/null || echo "0 0")
      [ "$a" -gt "$peak_a" ] && peak_a=$a
      [ "$f" -gt "$peak_f" ] && peak_f=$f
      echo "$peak_a $peak_f" >"$2"
      sleep 1
    done ) &
  SAMPLER=$!
}
sample_stop() {  # file: prints the peaks
  kill "$SAMPLER" 2>/dev/null || true
  wait "$SAMPLER" 2>/dev/null || true
  awk '{ printf "peak RssAnon %.1f MiB, peak RssFile %.1f MiB", $1 / 1024, $2 / 1024 }' "$1"
}

# One redis-benchmark run: "NAME,rps,p99" lines.  Extra args: a -t test
# list or a command.
run() {  # port pipeline requests keyspace name args...
  local port="$1" p="$2" n="$3" r="$4" name="$5"; shift 5
  redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$n" -P "$p" -r "$r" -d 100 --csv "$@" 2>/dev/null |
    awk -F'","' -v name="$name" 'NR > 1 { gsub(/"/, "", $0); split($0, f, ","); print name "," f[2] "," f[7] }'
}

# Every test once on a port: "test,rps,p99" lines.
tests_on() {  # port pipeline requests keyspace [get/set only]
  run "$1" "$2" "$3" "$4" get -t get
  run "$1" "$2" "$3" "$4" set -t set
  [ -n "${5:-}" ] && return 0
  run "$1" "$2" "$3" "$4" hset HSET 'h:__rand_int__' f __rand_int__
  run "$1" "$2" "$3" "$4" hget HGET 'h:__rand_int__' f
  run "$1" "$2" "$3" "$4" zadd ZADD 'z:__rand_int__' __rand_int__ 'm:__rand_int__'
  run "$1" "$2" "$3" "$4" lpush LPUSH 'l:__rand_int__' v
}

# From "test,rps,p99" files: the ratio table plus the median p99 of each.
report() {  # node.csv redis.csv
  cut -d, -f1,2 "$1" >"$1.rps"; cut -d, -f1,2 "$2" >"$2.rps"
  ratio_table "$1.rps" "$2.rps"
  "$PY" - "$1" "$2" <<'EOF'
import statistics, sys
def p99(path):
    d = {}
    for line in open(path):
        name, rps, p = line.strip().split(",")
        d.setdefault(name, []).append(float(p))
    return d
a, b = p99(sys.argv[1]), p99(sys.argv[2])
print("p99 latency ms (median of rounds): " + ", ".join(
    f"{t} {statistics.median(a[t]):.2f}/{statistics.median(b[t]):.2f}" for t in sorted(set(a) & set(b))) + " (strata/redis)")
EOF
}

throughput_table() {  # node_port redis_port keyspace node_pid [get/set only]
  local p n r
  for p in 1 16; do
    n="$N"; [ "$p" = 1 ] || n=$((N * 4))
    : >"$TMP/node.csv"; : >"$TMP/redis.csv"
    for r in $(seq "$ROUNDS"); do
      tests_on "$1" "$p" "$n" "$3" "${5:-}" >>"$TMP/node.csv"
      tests_on "$2" "$p" "$n" "$3" "${5:-}" >>"$TMP/redis.csv"
    done
    echo "pipeline $p, -r $3, $ROUNDS rounds:"
    report "$TMP/node.csv" "$TMP/redis.csv"
    echo "node: $(mem_of "$4")"
  done
}

load() {  # port name
  local t0 t1
  t0=$(date +%s.%N)
  redis-benchmark -h 127.0.0.1 -p "$1" -c "$CLIENTS" -n "$KEYS" -P 32 -r "$KEYS" -d 100 -t set -q >/dev/null 2>&1
  t1=$(date +%s.%N)
  LOAD_S=$(echo "$t1 - $t0" | bc)
  echo "load $2: $KEYS SETs in ${LOAD_S} s, $(echo "$KEYS / $LOAD_S" | bc) SET/s"
}

echo "bench_scale: $KEYS SETs over -r $KEYS, 100-byte values; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "node flags: ${NODE_ARGS:-defaults}"

start_redis redis; REDIS_PORT=$PORT; REDIS_PID=$PID
start_node node; NODE_PORT=$PORT; NODE_PID=$PID
load "$REDIS_PORT" redis-server; REDIS_LOAD=$LOAD_S
sample_start "$NODE_PID" "$TMP/peak"
load "$NODE_PORT" strata-node; NODE_LOAD=$LOAD_S
echo "load ratio (strata/redis rate): $(echo "scale=2; $REDIS_LOAD / $NODE_LOAD" | bc); node during load: $(sample_stop "$TMP/peak")"
echo "keys: redis $(redis-cli -p "$REDIS_PORT" DBSIZE), strata $(redis-cli -p "$NODE_PORT" DBSIZE); node data $(du -sm "$TMP/node" | cut -f1) MiB, $(find "$TMP/node" -name '*.ldb' | wc -l) table files"
echo "redis-server: $(mem_of "$REDIS_PID")"
echo "node: $(mem_of "$NODE_PID")"
echo
throughput_table "$NODE_PORT" "$REDIS_PORT" "$KEYS" "$NODE_PID"
redis-cli -p "$NODE_PORT" INFO | grep -E '^meta_cache|^leveldb' | tr -d '\r' | tr '\n' ' '; echo

# The node's own small-dataset rate, on the same machine at the same time.
start_node small; SMALL_PORT=$PORT; SMALL_PID=$PID
redis-benchmark -h 127.0.0.1 -p "$SMALL_PORT" -c "$CLIENTS" -n 100000 -P 32 -r 100000 -d 100 -t set -q >/dev/null 2>&1
echo
echo "the node at 100k keys against the node at $KEYS (GET/SET):"
for p in 1 16; do
  n="$N"; [ "$p" = 1 ] || n=$((N * 4))
  : >"$TMP/big.csv"; : >"$TMP/small.csv"
  for r in $(seq "$ROUNDS"); do
    tests_on "$NODE_PORT" "$p" "$n" "$KEYS" gs >>"$TMP/big.csv"
    tests_on "$SMALL_PORT" "$p" "$n" 100000 gs >>"$TMP/small.csv"
  done
  echo "pipeline $p (strata rps = the big dataset, redis rps = the node at 100k keys):"
  report "$TMP/big.csv" "$TMP/small.csv"
done
stop_pid "$SMALL_PID"

# The floor: LevelDB alone on the node's data, with the node's options.
CFG=$(redis-cli -p "$NODE_PORT" CONFIG GET '*' | paste - - | tr -d '\r')
cfg() { echo "$CFG" | awk -v k="$1" '$1 == k { print $2 }'; }
BC=$(( $(cfg block-cache) >> 20 )); MOF=$(cfg max-open-files); COMP=$([ "$(cfg compression)" = none ] && echo 0 || echo 1)
MFS=$(cfg max-file-size); MFS=$(( ${MFS:-2097152} >> 20 ))
redis-cli -p "$NODE_PORT" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
stop_pid "$NODE_PID"
echo
echo "floor (block cache $BC MiB, max_open_files $MOF, bloom 10, compression $COMP, max_file_size $MFS MiB):"
"$TMP/leveldb_floor" "$TMP/node" "${FLOOR_GETS:-2000000}" "$KEYS" "$BC" "$MOF" 10 "$COMP" "$MFS"

[ "${SCALE_CGROUP:-1}" = 1 ] || exit 0
echo
# cgroup v2's memory.max, or where the memory controller is on v1 only
# (as on hosts that mount cgroup2 for other controllers), v1's
# memory.limit_in_bytes: both charge the page cache the group's reads
# bring in, so the table files the node maps count against the limit.
CG2="${SCALE_CGROUP2:-$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)}"
CG1="${SCALE_CGROUP1:-$(awk '$3 == "cgroup" && $4 ~ /(^|,)memory(,|$)/ { print $2; exit }' /proc/mounts)}"
DATA=$(du -sb "$TMP/node" | cut -f1)
LIMIT=$((DATA / 4))
if [ -n "$CG2" ] && grep -qw memory "$CG2/cgroup.controllers" 2>/dev/null; then
  CGDIR="$CG2/strata-bench-scale.$$"
  grep -qw memory "$CG2/cgroup.subtree_control" || echo +memory >"$CG2/cgroup.subtree_control"
  mkdir "$CGDIR"
  echo "$LIMIT" >"$CGDIR/memory.max"
  echo 0 >"$CGDIR/memory.swap.max" 2>/dev/null || true
  CGV=2
elif [ -n "$CG1" ] && mkdir "$CG1/strata-bench-scale.$$" 2>/dev/null; then
  CGDIR="$CG1/strata-bench-scale.$$"
  echo "$LIMIT" >"$CGDIR/memory.limit_in_bytes"
  echo 0 >"$CGDIR/memory.swappiness" 2>/dev/null || true
  CGV=1
else
  echo "cgroup case skipped: no cgroup2 mount with the memory controller (cgroup2 at '${CG2:-none}' has: $(cat "$CG2/cgroup.controllers" 2>/dev/null || echo nothing)) and no writable cgroup v1 memory hierarchy ('${CG1:-none}')"
  exit 0
fi
cg_cleanup() { bench_cleanup; rmdir "$CGDIR" 2>/dev/null || true; }
trap cg_cleanup EXIT
echo "cgroup v$CGV $CGDIR: memory limit $((LIMIT >> 20)) MiB (a quarter of $((DATA >> 20)) MiB of data)"
# Start cold: the node's files are dropped from the page cache
# (POSIX_FADV_DONTNEED on each, nothing else on the machine), so the reads
# in the group fault them in again and are charged to it: pages already
# cached stay charged to whoever read them first.
sync
"$PY" - "$TMP/node" <<'EOF'
import os, sys
for name in os.listdir(sys.argv[1]):
    path = os.path.join(sys.argv[1], name)
    if os.path.isfile(path):
        fd = os.open(path, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
EOF
PORT="$(free_port)"
# shellcheck disable=SC2086
sh -c 'echo $$ >"$1/cgroup.procs"; shift; exec "$@"' sh "$CGDIR" "$BUILD/bin/strata-node" --port "$PORT" \
  --bind 127.0.0.1 --dir "$TMP/node" ${NODE_ARGS:-} ${CGROUP_NODE_ARGS:-} >"$TMP/cg.log" 2>&1 &
PID=$!; PIDS+=("$PID")
wait_ping "$PORT" "$PID" cg
CG_PORT=$PORT; CG_PID=$PID
echo "node flags in the cgroup: ${NODE_ARGS:-} ${CGROUP_NODE_ARGS:-}"
throughput_table "$CG_PORT" "$REDIS_PORT" "$KEYS" "$CG_PID" gs
if [ "$CGV" = 2 ]; then
  echo "cgroup memory.events: $(tr '\n' ' ' <"$CGDIR/memory.events"); memory.peak $(cat "$CGDIR/memory.peak" 2>/dev/null || echo n/a)"
else
  echo "cgroup memory.failcnt $(cat "$CGDIR/memory.failcnt"), memory.max_usage_in_bytes $(( $(cat "$CGDIR/memory.max_usage_in_bytes") >> 20 )) MiB; $(awk '$1 == "cache" || $1 == "rss" || $1 == "mapped_file" || $1 == "pgmajfault" { printf "%s %s ", $1, $1 == "pgmajfault" ? $2 : int($2 / 1048576) " MiB" }' "$CGDIR/memory.stat")"
fi
