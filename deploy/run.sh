#!/usr/bin/env bash
# deploy/run.sh: install, build and start the local Strata cluster (the main job).
#
#   deploy/run.sh [start]   install deps, build Release into build/, start everything
#   deploy/run.sh stop      stop everything started here (SIGTERM, then SIGKILL)
#   deploy/run.sh status    show what runs, with pids, ports and a PING
#   deploy/run.sh restart   stop, then start
#   deploy/run.sh add-group [--yes]
#                           grow the cluster: start g3 (strata-node on 7005 + 7006),
#                           add it to run/topology.yaml with no slots, reload the
#                           sentinels and the proxy, run `strata-cli rebalance`
#                           onto it (asks first unless --yes), then write the new
#                           map's slots: into run/topology.yaml and reload again
#
# Everything lives under run/ at the repository root (git ignores it):
#   run/<service>/        working directory and data of each service
#   run/logs/<service>.log
#   run/pids/<service>.pid
#
# The cluster is a list of services, started in order and stopped in reverse:
#   node1..node4   strata-node on 127.0.0.1:7001..7004; groups g1 = 7001 (master)
#                  + 7002 (replica), g2 = 7003 + 7004
#   sentinel1..3   strata-sentinel on 127.0.0.1:26379..26381
#   proxy          strata-proxy on 127.0.0.1:6379, the Redis endpoint
#   node5, node6   after `add-group`: group g3 = 7005 (master) + 7006 (replica)
# All read run/topology.yaml, copied from deploy/examples/local.yaml at the
# first start (edit the copy: it is the running cluster's intent).  Nodes run with min_replica_acks 1
# (a write is answered once the replica has it) falling back to
# asynchronous after 500 ms without a replica (with one replica per group,
# a promoted master would otherwise refuse writes until the old one
# returns), and fence_lease_ms 500.
#
# Environment: STRATA_SKIP_BUILD=1 skips install and build (use build/ as is);
# STRATA_BUILD_DIR=DIR uses DIR instead of build/ (e.g. a test build).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${STRATA_BUILD_DIR:-$ROOT/build}"
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
BIN="$BUILD/bin"
RUN="$ROOT/run"
LOGS="$RUN/logs"
PIDS="$RUN/pids"

# --- the cluster ----------------------------------------------------------

# Each service: name, TCP port on 127.0.0.1, binary, arguments.  Started in
# this order, stopped in reverse order.
SVC_NAMES=()
declare -A SVC_PORT SVC_CMD

add_service() {  # name port binary args...
  local name="$1" port="$2"
  shift 2
  SVC_NAMES+=("$name")
  SVC_PORT[$name]="$port"
  SVC_CMD[$name]="$(printf '%q ' "$@")"
}

TOPOLOGY="$RUN/topology.yaml"
EXAMPLE_TOPOLOGY="$ROOT/deploy/examples/local.yaml"
NODE_OPTS=(--min_replica_acks 1 --replica_ack_timeout_ms 500 --replica_ack_fallback async
           --fence_lease_ms 500)

define_services() {
  local i port last=4
  [ -f "$RUN/g3.added" ] && last=6
  SVC_NAMES=()
  for i in $(seq 1 "$last"); do
    port=$((7000 + i))
    if [ $((i % 2)) -eq 1 ]; then
      add_service "node$i" "$port" "$BIN/strata-node" \
        --port "$port" --bind 127.0.0.1 --dir "$RUN/node$i/data" "${NODE_OPTS[@]}"
    else
      add_service "node$i" "$port" "$BIN/strata-node" \
        --port "$port" --bind 127.0.0.1 --dir "$RUN/node$i/data" "${NODE_OPTS[@]}" \
        --replicaof "127.0.0.1:$((port - 1))"
    fi
  done
  for i in 1 2 3; do
    port=$((26378 + i))
    add_service "sentinel$i" "$port" "$BIN/strata-sentinel" \
      --config "$TOPOLOGY" --port "$port" --dir "$RUN/sentinel$i/state"
  done
  add_service proxy 6379 "$BIN/strata-proxy" --config "$TOPOLOGY"
}

# --- helpers --------------------------------------------------------------

say() { printf 'run.sh: %s\n' "$*"; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

# The pid recorded for a service, if that process still runs the same binary.
live_pid() {
  local name="$1" pidfile="$PIDS/$1.pid" pid exe
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # Guard against a recycled pid: the process must run the service's binary.
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
  exe="${exe% (deleted)}"
  local want
  want="$(eval "set -- ${SVC_CMD[$name]}"; printf '%s' "$1")"
  [ "$(basename "$exe")" = "$(basename "$want")" ] || return 1
  printf '%s\n' "$pid"
}

port_busy() {
  ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

ping_port() {
  redis-cli -h 127.0.0.1 -p "$1" PING 2>/dev/null | grep -q PONG
}

build() {
  say "installing dependencies"
  bash "$ROOT/deploy/install-deps.sh"
  say "building Release into $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j "$(nproc)"
}

start_service() {
  local name="$1" port="${SVC_PORT[$1]}" pid
  if pid="$(live_pid "$name")"; then
    say "$name already running (pid $pid, port $port)"
    return 0
  fi
  if port_busy "$port"; then
    die "port $port (for $name) is already in use by another process; stop it first"
  fi
  mkdir -p "$RUN/$name" "$LOGS" "$PIDS"
  eval "set -- ${SVC_CMD[$name]}"
  [ -x "$1" ] || die "$1 is not built"
  # setsid: the service outlives this shell and gets no terminal signals.
  (cd "$RUN/$name" && exec setsid "$@" </dev/null >>"$LOGS/$name.log" 2>&1) &
  pid=$!
  echo "$pid" >"$PIDS/$name.pid"
  local i
  for i in $(seq 1 150); do  # up to 15 s
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PIDS/$name.pid"
      tail -n 20 "$LOGS/$name.log" >&2 || true
      die "$name exited during start; log: $LOGS/$name.log"
    fi
    ping_port "$port" && { say "$name started (pid $pid, 127.0.0.1:$port)"; return 0; }
    sleep 0.1
  done
  die "$name (pid $pid) does not answer PING on port $port after 15 s; log: $LOGS/$name.log"
}

stop_service() {
  local name="$1" pid i
  if ! pid="$(live_pid "$name")"; then
    rm -f "$PIDS/$name.pid"
    say "$name not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 300); do  # up to 30 s for a clean shutdown
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name (pid $pid) ignored SIGTERM for 30 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDS/$name.pid"
  say "$name stopped"
}

status() {
  local name pid rc=0 state
  for name in "${SVC_NAMES[@]}"; do
    if pid="$(live_pid "$name")"; then
      if ping_port "${SVC_PORT[$name]}"; then state="up"; else state="running, no PONG"; rc=1; fi
      printf '%-10s %-18s pid %-8s 127.0.0.1:%s\n' "$name" "$state" "$pid" "${SVC_PORT[$name]}"
    else
      printf '%-10s %-18s\n' "$name" "stopped"
      rc=1
    fi
  done
  return "$rc"
}

# Grow the local cluster by one group, g3, and rebalance onto it.
add_group() {
  [ -f "$TOPOLOGY" ] || die "the cluster was never started (no $TOPOLOGY): run deploy/run.sh start first"
  live_pid proxy >/dev/null || die "the cluster is not running: deploy/run.sh start first"
  touch "$RUN/g3.added"
  define_services
  start_service node5
  start_service node6
  if ! grep -q 'name: g3' "$TOPOLOGY"; then
    # A group with no slots: the sentinels seed its master with an empty table.
    awk '/^proxy:/ && !done { print "  - name: g3\n    slots: \"\"\n    nodes: [127.0.0.1:7005, 127.0.0.1:7006]"; done=1 } { print }' \
      "$TOPOLOGY" >"$TOPOLOGY.tmp" && mv "$TOPOLOGY.tmp" "$TOPOLOGY"
    say "added group g3 (no slots) to $TOPOLOGY"
  fi
  "$BIN/strata-proxy" --config "$TOPOLOGY" -t
  local name pid
  for name in sentinel1 sentinel2 sentinel3 proxy; do
    pid="$(live_pid "$name")" && kill -HUP "$pid"
  done
  local i
  for i in $(seq 1 100); do  # up to 10 s for the seeding of g3's master
    redis-cli -p 7005 STRATA SLOTS 2>/dev/null | grep -qx g3 && break
    sleep 0.1
  done
  say "g3 is in the cluster; rebalancing onto it"
  local out="$RUN/rebalance.out" rc=0
  "$BIN/strata-cli" rebalance --config "$TOPOLOGY" "$@" | tee "$out" || rc=$?
  [ "$rc" -eq 0 ] || die "strata-cli rebalance exited $rc: rerun deploy/run.sh add-group to carry on"
  # The intent follows the map: the slots: lines rebalance printed.
  if grep -q "^done: the slot map matches the plan" "$out"; then
    awk -v lines="$(grep '^  [^ ]*: slots: "' "$out")" '
      BEGIN { n = split(lines, l, "\n")
              for (i = 1; i <= n; i++) { g = l[i]; sub(/^ +/, "", g); sub(/:.*/, "", g)
                                         v = l[i]; sub(/^[^"]*/, "", v); want[g] = v } }
      /^  - name: / { g = $3 }
      /^    slots: / && (g in want) { print "    slots: " want[g]; next }
      { print }' "$TOPOLOGY" >"$TOPOLOGY.tmp" && mv "$TOPOLOGY.tmp" "$TOPOLOGY"
    say "set the slots: of $TOPOLOGY to the new map"
    for name in sentinel1 sentinel2 sentinel3 proxy; do
      pid="$(live_pid "$name")" && kill -HUP "$pid"
    done
  fi
}

usage() {
  cat <<USAGE
usage: deploy/run.sh [start|stop|status|restart|add-group [--yes]]
  start    install dependencies, build into build/, start the local cluster (default)
  stop     stop the local cluster
  status   show the state of each service
  restart  stop, then start
  add-group  start group g3 (7005 + 7006), add it to run/topology.yaml and
             rebalance the slots onto it with strata-cli (asks unless --yes)
USAGE
}

# --- main -----------------------------------------------------------------

define_services
cmd="${1:-start}"
case "$cmd" in
  start)
    [ "${STRATA_SKIP_BUILD:-0}" = 1 ] || build
    # Keep run/ out of git even in a tree whose .gitignore lacks it.
    mkdir -p "$RUN" && { [ -f "$RUN/.gitignore" ] || echo '*' >"$RUN/.gitignore"; }
    [ -f "$TOPOLOGY" ] || cp "$EXAMPLE_TOPOLOGY" "$TOPOLOGY"
    for name in "${SVC_NAMES[@]}"; do start_service "$name"; done
    echo
    echo "Strata is running:"
    status || true
    echo
    echo "  connect:  redis-cli -p 6379          (the proxy; any Redis client works)"
    echo "  masters:  redis-cli -p 26379 SENTINEL masters"
    echo "  events:   redis-cli -p 26379 PSUBSCRIBE '*'   (+sdown, +switch-master, ...)"
    echo "  failover: redis-cli -p 26379 SENTINEL failover g1"
    echo "  slots:    redis-cli -p 26379 SENTINEL SLOTS;  $BIN/strata-cli status --config $TOPOLOGY"
    echo "  grow:     deploy/run.sh add-group     (a third group, then strata-cli rebalance)"
    echo "  logs:     $LOGS/"
    echo "  data:     $RUN/<service>/"
    echo "  status:   deploy/run.sh status"
    echo "  stop:     deploy/run.sh stop"
    ;;
  stop)
    for ((i = ${#SVC_NAMES[@]} - 1; i >= 0; i--)); do stop_service "${SVC_NAMES[$i]}"; done
    ;;
  status)
    status
    ;;
  add-group)
    shift
    add_group "$@"
    ;;
  restart)
    bash "$ROOT/deploy/run.sh" stop
    exec bash "$ROOT/deploy/run.sh" start
    ;;
  -h|--help|help)
    usage
    ;;
  *)
    usage >&2
    exit 2
    ;;
esac
