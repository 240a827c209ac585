#!/usr/bin/env bash
# Persistence figures for docs/benchmarks.md ("Persistence"); a bench, not a test.
#
#  (a) SET throughput, 50 clients: redis-benchmark -t set -c 50 -n 200000
#      -r 100000, mem-kv --fsync always vs --fsync no, and redis-server
#      appendonly yes + appendfsync always vs no, alternating, RUNS rounds,
#      medians; "always" as a share of "no" for each server.
#  (b) recovery time with 1 M keys (16-byte keys, 32-byte values), from the
#      log only and from a snapshot (after COMPACT), from the server's
#      "DB loaded ... in S seconds" line (median of RUNS restarts each).
#  (c) GET P99, open loop at RATE req/s over the 1 M keys, without compaction
#      and while COMPACT runs back to back for the whole run, same server.
#
# Usage: bench/persist_figures.sh [--quick]
# Env: BUILD (default build), RUNS (3), RATE (20000), SECS (6), PARTS ("a b c"),
#      CARGS (more mem-kv-server options for (c), e.g. "--compact-cpu 100"),
#      POLL_ONLY=1 ((c) without COMPACTs: the cost of watching for them),
#      WORK (data directories; default a mktemp -d on /tmp - use a real disk,
#      not tmpfs, or fsync costs nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh # free_port, wait_ping, PIDS, cleanup
BUILD=${BUILD:-build}
RUNS=${RUNS:-3}
RATE=${RATE:-20000}
SECS=${SECS:-6}
PARTS=${PARTS:-a b c}
want() { [[ " $PARTS " == *" $1 "* ]]; }
N=200000
KEYS=1000000
if [[ "${1:-}" == "--quick" ]]; then RUNS=1; N=50000; KEYS=200000; SECS=3; fi
SERVER=$BUILD/mem-kv-server
BENCH=$BUILD/mem-kv-bench
for t in "$SERVER" "$BENCH"; do [[ -x $t ]] || { echo "missing $t (cmake --build $BUILD)" >&2; exit 1; }; done
command -v redis-benchmark >/dev/null || { echo "redis-benchmark not found" >&2; exit 1; }
REDIS=$(command -v redis-server || true)
WORK=${WORK:-$(mktemp -d /tmp/memkv-persist-figures.XXXXXX)}
mkdir -p "$WORK"
median() { python3 -c 'import sys,statistics; v=[float(x) for x in sys.argv[1:]]; print("%.3f" % statistics.median(v))' "$@"; }

# start_memkv DIR LOG ARGS... -> sets PORT, PID
start_memkv() {
  local dir=$1 log=$2; shift 2
  PORT=$(free_port)
  "$SERVER" --port "$PORT" --dir "$dir" "$@" >>"$log" 2>&1 &
  PID=$!; PIDS+=("$PID")
  wait_ping "$PORT" 60
}
start_redis() {
  local dir=$1 fsync=$2
  PORT=$(free_port)
  mkdir -p "$dir"
  "$REDIS" --port "$PORT" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync "$fsync" \
    --dir "$dir" --daemonize no --logfile "$dir/redis.log" --protected-mode no >/dev/null 2>&1 &
  PID=$!; PIDS+=("$PID")
  wait_ping "$PORT" 60
}
stop() { kill -TERM "$1"; wait "$1" 2>/dev/null || true; }
set_rps() { redis-benchmark -p "$1" -t set -c 50 -n "$N" -r 100000 -q 2>/dev/null | tr '\r' '\n' |
            sed -n 's/^SET: \([0-9.]*\) requests per second.*/\1/p' | tail -1; }

echo "# persistence figures, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, work dir $WORK ($(df -T "$WORK" | awk 'NR==2{print $2}'))"

# ---- (a) -------------------------------------------------------------------
declare -A R
want a || RUNS_A=0
for round in $(seq 1 "${RUNS_A:-$RUNS}"); do
  for cfg in memkv-always memkv-no redis-always redis-no; do
    d=$WORK/a-$cfg-$round
    case $cfg in
      memkv-*) start_memkv "$d" "$WORK/a.log" --fsync "${cfg#memkv-}" ;;
      redis-*) [[ -n $REDIS ]] || continue; start_redis "$d" "${cfg#redis-}" ;;
    esac
    v=$(set_rps "$PORT"); stop "$PID"; rm -rf "$d"
    R[$cfg]="${R[$cfg]:-} $v"
    echo "  (a) round $round $cfg: $v SET/s"
  done
done
for s in memkv redis; do
  [[ -n "${R[$s-always]:-}" ]] || continue
  a=$(median ${R[$s-always]}); n=$(median ${R[$s-no]})
  echo "(a) $s: fsync always $a SET/s, fsync no $n SET/s, always/no = $(python3 -c "print('%.0f %%' % (100*$a/$n))")"
done

# ---- (b) -------------------------------------------------------------------
d=$WORK/b; log=$WORK/b.log; : >"$log"
start_memkv "$d" "$log" --fsync no --compact-log-size 0
"$BENCH" -p "$PORT" -q --load --keys "$KEYS" --key-prefix k:persist: -v 32 -r 0:1:0 -c 1 -n 1 >/dev/null
stop "$PID"
if want b; then
loaded() { grep -o 'DB loaded from .*: [0-9]* keys in [0-9.]* seconds' "$log" | tail -1 | sed 's/.*: \([0-9]*\) keys in \([0-9.]*\) seconds/\1 \2/'; }
T=()
for r in $(seq 1 "$RUNS"); do
  start_memkv "$d" "$log" --fsync no --compact-log-size 0; stop "$PID"
  read -r k s <<<"$(loaded)"; T+=("$s"); echo "  (b) from log: $k keys in $s s"
done
logbytes=$(du -sb "$d" | cut -f1)
start_memkv "$d" "$log" --fsync no --compact-log-size 0
redis-cli -p "$PORT" COMPACT >/dev/null
for _ in $(seq 1 600); do [[ $(grep -c 'compaction done' "$log") -ge 16 ]] && break; sleep 0.1; done
stop "$PID"
S=()
for r in $(seq 1 "$RUNS"); do
  start_memkv "$d" "$log" --fsync no --compact-log-size 0; stop "$PID"
  read -r k s <<<"$(loaded)"; S+=("$s"); echo "  (b) from snapshot: $k keys in $s s"
done
snapbytes=$(du -sb "$d" | cut -f1)
echo "(b) recovery of $k keys: from log only $(median "${T[@]}") s ($((logbytes / 1048576)) MiB of log), from snapshot $(median "${S[@]}") s ($((snapbytes / 1048576)) MiB)"
fi

# ---- (c) -------------------------------------------------------------------
want c || { rm -rf "$WORK"; exit 0; }
# shellcheck disable=SC2086 # CARGS: words on purpose
start_memkv "$d" "$log" --compact-log-size 0 ${CARGS:-}
getrun() { "$BENCH" -p "$PORT" -q -t 1 -c 50 -R "$RATE" -d "$SECS" --keys "$KEYS" --key-prefix k:persist: -v 32 \
             -r 0:1:0 --json "$1" >/dev/null; }
p99() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); g=j["commands"]["GET"]; print("%.3f %.3f %d %d" % (g["latency_ms"]["p99"], g["latency_ms"]["p99.9"], g["count"], g["misses"]))' "$1"; }
getrun "$WORK/c-base.json"
# COMPACT back to back while the run lasts, from one process that is up
# before the run starts (see compact_loop.py)
read -r n done_n <<<"$(python3 bench/compact_loop.py ${POLL_ONLY:+--poll-only} "$PORT" \
  "$BENCH" -p "$PORT" -q -t 1 -c 50 -R "$RATE" -d "$SECS" --keys "$KEYS" --key-prefix k:persist: -v 32 \
  -r 0:1:0 --json "$WORK/c-compact.json")"
getrun "$WORK/c-base2.json"
stop "$PID"
read -r b99 b999 bc bm <<<"$(p99 "$WORK/c-base.json")"
read -r c99 c999 cc cm <<<"$(p99 "$WORK/c-compact.json")"
read -r a99 a999 ac am <<<"$(p99 "$WORK/c-base2.json")"
echo "(c) ${CARGS:-defaults}: GET at $RATE/s over $KEYS keys, $SECS s each: p99 $b99 ms (p99.9 $b999) without compaction; p99 $c99 ms (p99.9 $c999) during $n COMPACTs ($done_n shard compactions); again without: p99 $a99 ms (p99.9 $a999)"
rm -rf "$WORK"
