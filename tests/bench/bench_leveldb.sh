#!/usr/bin/env bash
# tests/bench/bench_leveldb.sh: LevelDB's own cost of the node's write
# batches, per write buffer size (see leveldb_writes.c).  Not a pass/fail
# test; the figures chose the node's default write_buffer.
#
# Environment:
#   BENCH_PUTS     puts per run (default 3000000)
#   BENCH_ROUNDS   times the whole sweep is repeated (default 2; the machine
#                  is shared, so compare rounds, not single lines)
#   BENCH_BUFFERS  write buffer sizes in MB (default "2 4 8 16")
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init bench-leveldb
cc -O2 -Wall -Wextra -Werror -o "$TMP/leveldb_writes" "$ROOT/tests/bench/leveldb_writes.c" -lleveldb
for round in $(seq 1 "${BENCH_ROUNDS:-2}"); do
  echo "round $round"
  for c in 1 0; do
    # shellcheck disable=SC2086
    "$TMP/leveldb_writes" "$TMP/db" "${BENCH_PUTS:-3000000}" "$c" ${BENCH_BUFFERS:-2 4 8 16}
  done
done
