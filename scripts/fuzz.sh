#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, in build-asan/) and runs
# each for SECONDS (default 60), from the seed corpus in tests/fuzz/corpus
# with its dictionary; new inputs go to build-asan/fuzz/TARGET/.
#   usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   targets: gbt stratum block prevouts headers address verify_sigs config engines batch script
# Prints the executions per target; exits 1 if any target crashed, leaked
# or hung (the input is kept as build-asan/fuzz/TARGET-crash-...).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gbt stratum block prevouts headers address verify_sigs config engines batch script)
export BUILD_DIR=${BUILD_DIR:-build-asan}
# The same flags as the sanitizer test build, so a build there is reused.
CC=clang POWKIT_SANITIZE=1 POWKIT_FUZZ=1 POWKIT_WERROR=1 bash scripts/build.sh >/dev/null
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
work=$BUILD_DIR/fuzz
failed=0
# The targets run side by side, one per core (POWKIT_FUZZ_JOBS), each into
# its log; the table follows in the targets' order.
jobs=${POWKIT_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
declare -A rcs
run_one() { # target
  local t=$1
  mkdir -p "$work/$t"
  "$BUILD_DIR/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=100000 \
    -dict="tests/fuzz/$t.dict" -artifact_prefix="$work/$t-" -print_final_stats=1 \
    "$work/$t" "tests/fuzz/corpus/$t" >"$work/$t.log" 2>&1
}
pids=()
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
    wait -n || true
  done
  run_one "$t" &
  pids+=("$!")
done
set +e
for i in "${!targets[@]}"; do
  wait "${pids[$i]}"
  rcs[${targets[$i]}]=$?
done
set -e
printf '%-12s %12s %10s %8s  %s\n' target executions exec/s corpus result
for t in "${targets[@]}"; do
  log="$work/$t.log"
  rc=${rcs[$t]}
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  units=$(find "$work/$t" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    result="FAILED (see $log)"
    failed=1
    grep -E 'ERROR|runtime error|SUMMARY' "$log" | head -5 || true
  fi
  printf '%-12s %12s %10s %8s  %s\n' "$t" "$runs" "$speed" "$units" "$result"
done
exit $failed
