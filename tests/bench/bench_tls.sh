#!/usr/bin/env bash
# tests/bench/bench_tls.sh: what TLS costs, through strata-proxy and on
# redis-server, side by side in one run.
#
#   bash tests/bench/bench_tls.sh
#
# Builds Release strata-node and strata-proxy in build-bench/, makes a CA
# and certificates with openssl in the temporary directory, and starts two
# strata-nodes (two groups), each with its plain port and a tls_port;
# proxy A, whose links to the nodes are plain, with a plain listen port and
# a tls_port; proxy B with tls_backend (the topology names the nodes' TLS
# ports) and a tls_port; and one redis-server with a plain port and a
# tls-port.  Every TLS port asks for a client certificate from the CA.
# redis-benchmark (--tls for the TLS ports) then runs, rounds alternating
# the configurations (lib.sh), at pipeline 1 and 16:
#   plain       proxy A's plain port
#   tls         proxy A's tls_port: TLS between client and proxy only
#   tls+btls    proxy B's tls_port: TLS to the proxy and from it to the nodes
#   redis       redis-server's plain port
#   redis-tls   redis-server's tls-port
# for SET and GET of 3-byte values over 100000 keys (set, get) and GET of
# a 4096-byte value over 1000 keys (get_4k).  Per pipeline it prints each
# configuration's median rate and the paired ratios TLS/plain.  Not a
# pass/fail test; nothing is written to the tree.  The client's own TLS
# work is on the same cores as the servers': on a small machine the ratios
# include redis-benchmark's cost.
#
# Environment: BENCH_N (requests per test, default 100000), BENCH_CLIENTS
# (default 50), BENCH_ROUNDS (default 3), BENCH_THREADS (proxy worker
# threads, default 1), NODE_ARGS, REDIS_ARGS.
set -euo pipefail

# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BUILD="$ROOT/build-bench"
N="${BENCH_N:-100000}"
CLIENTS="${BENCH_CLIENTS:-50}"
THREADS="${BENCH_THREADS:-1}"
for tool in redis-server redis-benchmark redis-cli openssl; do
  command -v "$tool" >/dev/null || { echo "bench_tls: missing $tool"; exit 1; }
done

bench_init bench_tls
bench_build "$BUILD" strata-node strata-proxy
bench_certs
TLS_SERVER=(--tls-cert-file "$CERTS/server.crt" --tls-key-file "$CERTS/server.key"
            --tls-ca-cert-file "$CERTS/ca.crt" --tls-auth-clients yes)
TLS_CLIENT=(--tls --cacert "$CERTS/ca.crt" --cert "$CERTS/client.crt" --key "$CERTS/client.key")

N1_TLS="$(free_port)"; start_node node1 --tls-port "$N1_TLS" "${TLS_SERVER[@]}"; N1="$PORT"
N2_TLS="$(free_port)"; start_node node2 --tls-port "$N2_TLS" "${TLS_SERVER[@]}"; N2="$PORT"
REDIS_TLS="$(free_port)"; start_redis redis --tls-port "$REDIS_TLS" "${TLS_SERVER[@]}"; REDIS="$PORT"

topology() {  # port1 port2 listen tls_port [extra proxy lines]
  cat <<YAML
cluster: bench
groups:
  - name: g1
    slots: "0-8191"
    nodes: [127.0.0.1:$1]
  - name: g2
    slots: "8192-16383"
    nodes: [127.0.0.1:$2]
proxy:
  listen: 127.0.0.1:$3
  threads: $THREADS
  log_level: warning
  tls_port: $4
  tls_cert_file: $CERTS/server.crt
  tls_key_file: $CERTS/server.key
  tls_ca_cert_file: $CERTS/ca.crt
  tls_auth_clients: yes
${5:-}
YAML
}
PA="$(free_port)"; PA_TLS="$(free_port)"
topology "$N1" "$N2" "$PA" "$PA_TLS" >"$TMP/proxy_a.yaml"
start_proxy proxy_a "$TMP/proxy_a.yaml" "$PA"
PB="$(free_port)"; PB_TLS="$(free_port)"
topology "$N1_TLS" "$N2_TLS" "$PB" "$PB_TLS" "  tls_backend: yes
  tls_client_cert_file: $CERTS/client.crt
  tls_client_key_file: $CERTS/client.key" >"$TMP/proxy_b.yaml"
start_proxy proxy_b "$TMP/proxy_b.yaml" "$PB"

CONFIGS=(plain tls tls+btls redis redis-tls)
port_of() {  # config
  case "$1" in
    plain) echo "$PA" ;; tls) echo "$PA_TLS" ;; tls+btls) echo "$PB_TLS" ;;
    redis) echo "$REDIS" ;; redis-tls) echo "$REDIS_TLS" ;;
  esac
}
tls_of() {  # config: redis-benchmark's and redis-cli's TLS flags, if any
  case "$1" in tls|tls+btls|redis-tls) echo "${TLS_CLIENT[*]}" ;; esac
}

# Every configuration answers a write and a read before any figure counts
# (a TLS port that does not work would otherwise show as a rate of 0).
for c in "${CONFIGS[@]}"; do
  # shellcheck disable=SC2046 # the flags are split on purpose (no spaces in $TMP)
  got="$(timeout 20 redis-cli -h 127.0.0.1 -p "$(port_of "$c")" $(tls_of "$c") SET "check:$c" ok 2>&1 &&
         timeout 20 redis-cli -h 127.0.0.1 -p "$(port_of "$c")" $(tls_of "$c") GET "check:$c" 2>&1)" || true
  [ "$got" = "$(printf 'OK\nok')" ] || { echo "bench_tls: $c (port $(port_of "$c")) does not work: $got"; exit 1; }
done

# The keys the GETs read, written once through proxy A (both proxies use
# the same nodes) and into redis-server, so every GET finds its value.
"$PY" - "$PA" "$REDIS" <<'EOF'
import sys, redis
for port in map(int, sys.argv[1:]):
    r = redis.Redis(port=port, socket_timeout=60)
    for lo in range(0, 100000, 2000):
        p = r.pipeline(transaction=False)
        for i in range(lo, lo + 2000):
            p.set(f"key:{i:012d}", "xxx")
        p.execute()
    p = r.pipeline(transaction=False)
    for i in range(1000):
        p.set(f"big:{i:012d}", b"v" * 4096)
    p.execute()
    assert r.strlen("big:000000000999") == 4096 and r.get("key:000000099999") == b"xxx"
EOF

rps() {  # config pipeline args...: the rate redis-benchmark reports
  local c="$1" pipe="$2"; shift 2
  # shellcheck disable=SC2046 # the flags are split on purpose
  timeout 300 redis-benchmark -h 127.0.0.1 -p "$(port_of "$c")" $(tls_of "$c") -c "$CLIENTS" -n "$N" \
    -P "$pipe" --csv "$@" 2>/dev/null | awk -F'","' 'NR > 1 { gsub(/"/, "", $2); print $2; exit }'
}

echo "strata-proxy ($THREADS thread(s)) in front of 2 strata-nodes; $(redis-server --version | cut -d' ' -f1-3)"
echo "redis-benchmark -c $CLIENTS -n $N; $(nproc) cores; $(openssl version | cut -d' ' -f1-2)"
for pipe in 1 16; do
  for c in "${CONFIGS[@]}"; do : >"$TMP/$c.csv"; done
  for _ in $(seq "$ROUNDS"); do
    for t in set get get_4k; do
      for c in "${CONFIGS[@]}"; do
        case "$t" in
          set) r="$(rps "$c" "$pipe" -r 100000 -t set)" ;;
          get) r="$(rps "$c" "$pipe" -r 100000 -t get)" ;;
          get_4k) r="$(rps "$c" "$pipe" -r 1000 GET 'big:__rand_int__')" ;;
        esac
        echo "$t,${r:-0}" >>"$TMP/$c.csv"
      done
    done
  done
  echo
  echo "pipeline $pipe: strata-proxy"
  paired_table "plain=$TMP/plain.csv" "tls=$TMP/tls.csv" "tls+btls=$TMP/tls+btls.csv" -- tls/plain tls+btls/plain
  echo "pipeline $pipe: redis-server"
  paired_table "redis=$TMP/redis.csv" "redis-tls=$TMP/redis-tls.csv" -- redis-tls/redis
done

# Proxy B's links to the nodes are on their TLS ports (CLIENT LIST's laddr).
links() {  # node port, tls port
  redis-cli -p "$1" CLIENT LIST | grep -c "laddr=127.0.0.1:$2 " || true
}
echo
echo "links on the nodes' TLS ports: node1 $(links "$N1" "$N1_TLS"), node2 $(links "$N2" "$N2_TLS")"
