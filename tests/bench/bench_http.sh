#!/usr/bin/env bash
# tests/bench/bench_http.sh: the HTTP API (wrk) beside RESP (redis-benchmark),
# on strata-node and on strata-proxy in front of it.
#
#   bash tests/bench/bench_http.sh
#
# Builds Release strata-node and strata-proxy in build-bench/, starts a node
# with http_listen and a proxy (one group: that node) with http_listen, on
# free loopback ports in a temporary directory, and prints, for GET and SET
# of one key, requests per second over HTTP (wrk, keep-alive, one request
# per round trip) and over RESP (redis-benchmark, pipeline 1), with the
# same number of connections, and their ratio.  Not a pass/fail test; not
# part of CI.  Needs wrk (Debian package `wrk`).
#
# Environment:
#   BENCH_N         redis-benchmark requests per test (default 100000)
#   BENCH_SECONDS   wrk duration per test (default 5)
#   BENCH_CLIENTS   connections for both tools (default 50)
#   BENCH_THREADS   wrk threads (default 2)
set -euo pipefail

# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v wrk >/dev/null || { echo "bench_http: wrk not installed (apt-get install wrk)"; exit 1; }
BUILD="$ROOT/build-bench"
N="${BENCH_N:-100000}"
SECS="${BENCH_SECONDS:-5}"
CLIENTS="${BENCH_CLIENTS:-50}"
THREADS="${BENCH_THREADS:-2}"

bench_init bench_http
bench_build "$BUILD" strata-node strata-proxy

NODE_HTTP="$(free_port)"
start_node node --http_listen "127.0.0.1:$NODE_HTTP"
NODE_PORT="$PORT"

PROXY_HTTP="$(free_port)"
PROXY_PORT="$(free_port)"
cat >"$TMP/topology.yaml" <<YAML
cluster: bench
groups:
  - name: g1
    slots: "0-16383"
    nodes: [127.0.0.1:$NODE_PORT]
proxy:
  listen: 127.0.0.1:$PROXY_PORT
  http_listen: 127.0.0.1:$PROXY_HTTP
YAML
"$BUILD/bin/strata-proxy" --config "$TMP/topology.yaml" >"$TMP/proxy.log" 2>&1 &
PIDS+=("$!")
wait_ping "$PROXY_PORT" "$!" proxy

cat >"$TMP/set.lua" <<'LUA'
wrk.method = "POST"
wrk.path = "/SET/key:__rand_int__/xxx"
LUA

wrk_rps() {  # url [script]
  local extra=()
  [ -n "${2:-}" ] && extra=(-s "$2")
  wrk -t "$THREADS" -c "$CLIENTS" -d "${SECS}s" "${extra[@]}" "$1" |
    awk '/^Requests\/sec:/ { printf "%.0f", $2 }'
}

rb_rps() {  # port test
  redis-benchmark -p "$1" -t "$2" -n "$N" -c "$CLIENTS" -P 1 -q --csv |
    awk -F'"' 'NR > 1 || $2 != "test" { if ($2 != "test") { printf "%.0f", $4; exit } }'
}

printf '%-8s %-4s %12s %12s %7s\n' server test "http rps" "resp rps" ratio
for target in node proxy; do
  if [ "$target" = node ]; then http="$NODE_HTTP"; resp="$NODE_PORT"; else http="$PROXY_HTTP"; resp="$PROXY_PORT"; fi
  redis-cli -p "$resp" SET "key:__rand_int__" xxx >/dev/null
  for t in get set; do
    if [ "$t" = get ]; then h="$(wrk_rps "http://127.0.0.1:$http/GET/key:__rand_int__")"
    else h="$(wrk_rps "http://127.0.0.1:$http/" "$TMP/set.lua")"; fi
    r="$(rb_rps "$resp" "$t")"
    "$PY" -c "import sys; h, r = float(sys.argv[3]), float(sys.argv[4]); \
print(f'{sys.argv[1]:<8} {sys.argv[2]:<4} {h:>12.0f} {r:>12.0f} {h / r:>7.2f}')" "$target" "$t" "$h" "$r"
  done
done
