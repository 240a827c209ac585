#!/usr/bin/env bash
# run_fuzz.sh TARGET CORPUS SECONDS: runs a libFuzzer target for SECONDS on
# a temporary copy of its seed corpus (the repository is not modified) and
# prints libFuzzer's final statistics. Exit status: libFuzzer's (non-zero on
# a crash, a leak, a sanitizer report or a timeout); the crashing input is
# left in the build directory (crash-*, leak-*, timeout-*) and named.
set -euo pipefail
target=$1 corpus=$2 secs=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/memkv-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$corpus"/. "$work"/
echo "$(basename "$target"): $(ls "$work" | wc -l) seed inputs, ${secs} s"
set +e
"$target" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$PWD/$(basename "$target")-" "$work" >"$work.log" 2>&1
rc=$?
set -e
grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$work.log" || true
if [ "$rc" -ne 0 ]; then
  echo "$(basename "$target") FAILED (exit $rc):"
  tail -40 "$work.log"
fi
rm -f "$work.log"
exit "$rc"
