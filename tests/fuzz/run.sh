#!/usr/bin/env bash
# tests/fuzz/run.sh: build the libFuzzer targets with clang and run each one.
#
#   tests/fuzz/run.sh            # 20 s per target (the test suite's short run)
#   tests/fuzz/run.sh 600        # 10 minutes per target
#   tests/fuzz/run.sh 60 fuzz_reply  # one target only
#   FUZZ_SECONDS=30 tests/fuzz/run.sh   # as deploy/test.sh calls it
#
# Builds in its own directory, build-fuzz/ at the top of the tree (ASan +
# UBSan + libFuzzer).  The committed seeds in tests/fuzz/corpus/<target>
# are copied into build-fuzz/corpus/<target>, where libFuzzer adds what it
# finds, so the git tree only ever holds the hand-made seeds.  Crash,
# timeout and leak inputs are written to build-fuzz/artifacts/ (build*/ is
# ignored by git): turn each one into a unit test, then delete it.
#
# Exits non-zero if a target fails to build or finds a crash.
set -u

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="$ROOT/build-fuzz"
SECONDS_EACH="${1:-${FUZZ_SECONDS:-20}}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(fuzz_resp fuzz_yaml fuzz_reply fuzz_lua)

case "$SECONDS_EACH" in
  ''|*[!0-9]*) echo "run.sh: seconds must be a number, got '$SECONDS_EACH'" >&2; exit 2 ;;
esac

if ! command -v clang >/dev/null; then
  echo "run.sh: clang not found" >&2
  exit 2
fi

echo "== configuring $BUILD (clang, ASan+UBSan, libFuzzer)"
if ! CC=clang cmake -S "$ROOT" -B "$BUILD" -DSTRATA_FUZZ=ON -DSTRATA_SANITIZE=ON \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$BUILD.cmake.log" 2>&1; then
  cat "$BUILD.cmake.log" >&2
  echo "run.sh: cmake failed" >&2
  exit 1
fi
rm -f "$BUILD.cmake.log"

echo "== building ${TARGETS[*]}"
if ! make -C "$BUILD" -j2 "${TARGETS[@]}" >"$BUILD/make.log" 2>&1; then
  tail -40 "$BUILD/make.log" >&2
  echo "run.sh: build failed" >&2
  exit 1
fi

mkdir -p "$BUILD/artifacts"
failed=()
for t in "${TARGETS[@]}"; do
  seeds="$ROOT/tests/fuzz/corpus/${t#fuzz_}"
  work="$BUILD/corpus/$t"
  mkdir -p "$work"
  [ -d "$seeds" ] && cp -n "$seeds"/* "$work"/ 2>/dev/null
  log="$BUILD/artifacts/$t.log"
  echo "== $t for ${SECONDS_EACH}s (corpus $work, log $log)"
  # -timeout: one input may take at most 10 s (a hang is a bug);
  # -rss_limit_mb: a runaway allocation is a bug too.
  "$BUILD/fuzz/$t" "$work" \
      -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$BUILD/artifacts/$t-" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::new_units_added)" "$log" | head -3
  if [ $rc -ne 0 ]; then
    echo "!! $t failed (exit $rc); see $log" >&2
    grep -E "ERROR|check failed|differ|Test unit written" "$log" | head -10 >&2
    failed+=("$t")
  fi
done

if [ ${#failed[@]} -ne 0 ]; then
  echo "run.sh: FAILED: ${failed[*]} (inputs in $BUILD/artifacts/)" >&2
  exit 1
fi
echo "run.sh: all targets ran ${SECONDS_EACH}s without a crash"
