#!/usr/bin/env bash
# Runs each libFuzzer target of a CREDPROXY_FUZZ build for a bounded time
# and prints one summary line per target. `make fuzz` calls it.
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS TARGET...
#
# Each target fuzzes a working corpus in BUILD_DIR/fuzz-corpus/<target>
# (kept between runs, so coverage accumulates) seeded read-only from the
# committed tests/fuzz/corpus/<target>: libFuzzer writes new inputs only to
# the first directory it is given, so the committed corpus is never
# touched. Crashers land in BUILD_DIR/fuzz-artifacts/<target>/; fix the
# code, then commit the crasher into the committed corpus as a regression
# seed. Exits non-zero when any target crashed.
set -uo pipefail

build=$1 seconds=$2
shift 2
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
summary=()
failed=0

for target in "$@"; do
  binary=$build/tests/fuzz/${target}_fuzzer
  work=$build/fuzz-corpus/$target
  artifacts=$build/fuzz-artifacts/$target
  log=$build/fuzz-logs/$target.log
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  echo "fuzz: $target for ${seconds}s" >&2
  # -rss_limit_mb: a leak or a runaway allocation fails instead of swapping.
  "$binary" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$artifacts/" "$work" "$repo/tests/fuzz/corpus/$target" >"$log" 2>&1
  status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  crashes=$(find "$artifacts" -type f | wc -l)
  result=ok
  if [ "$status" -ne 0 ]; then
    result="FAILED (exit $status, see $log)"
    failed=1
  fi
  summary+=("$(printf '%-20s execs=%-10s cov=%-6s ft=%-7s corpus=%-6s artifacts=%-3s %s' \
    "$target" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes" "$result")")
done

echo
echo "fuzz summary (${seconds}s per target; logs in $build/fuzz-logs):"
printf '  %s\n' "${summary[@]}"
exit $failed
