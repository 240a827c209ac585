#!/usr/bin/env bash
# compare.sh - mem-kv against Redis on this machine, with the same workloads
# from the same load generators (mem-kv-bench and redis-benchmark).
#
# Starts build/mem-kv-server and Debian's redis-server on free loopback
# ports, persistence off on both (mem-kv: --persistence off when the binary
# has the option; Redis: --save '' --appendonly no), runs every workload
# against A (mem-kv) then B (Redis), round after round (A B A B ...), and
# prints one markdown table of medians: throughput and p50/p99/p99.9 for each
# server and the ratio mem-kv / Redis.
#
# Usage: bench/compare.sh [--quick] [--rounds N] [--duration S]
#                         [--memkv PATH] [--bench PATH] [--redis PATH]
#   --quick     1 s runs, smaller redis-benchmark counts (about 2 minutes)
#   --only IDS  only these workloads (comma-separated ids, e.g. fvset,fvget)
#   --memkv-args "ARGS"  extra mem-kv options, e.g. "--threads 1"
#   --persist   persistence on both: mem-kv --fsync interval (its default) in
#               a temporary --dir, Redis --appendonly yes --appendfsync everysec
#   default     4 s runs, 3 rounds (about 8 minutes on 2 cores)
# Needs python3 (for JSON), redis-server, redis-benchmark. Not part of ctest.
set -euo pipefail
cd "$(dirname "$0")/.."

MEMKV=build/mem-kv-server
BENCH=build/mem-kv-bench
REDIS=$(command -v redis-server || echo /usr/bin/redis-server)
RB=$(command -v redis-benchmark || echo /usr/bin/redis-benchmark)
PY=/usr/bin/python3
ROUNDS=3
DUR=4
RB_P1=200000
RB_P16=1000000
KEYS=100000
ONLY=""
EXTRA_ARGS=""
PERSIST=0

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) DUR=1; RB_P1=50000; RB_P16=250000; shift ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DUR=$2; shift 2 ;;
    --memkv) MEMKV=$2; shift 2 ;;
    --bench) BENCH=$2; shift 2 ;;
    --redis) REDIS=$2; shift 2 ;;
    --only) ONLY=",$2,"; shift 2 ;;
    --memkv-args) EXTRA_ARGS=$2; shift 2 ;;
    --persist) PERSIST=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
MEMKV=$(realpath "$MEMKV"); BENCH=$(realpath "$BENCH")
for f in "$MEMKV" "$BENCH" "$REDIS" "$RB" "$PY"; do
  [ -x "$f" ] || { echo "compare.sh: $f not found (build first: cmake --build build)" >&2; exit 2; }
done

WORK=$(mktemp -d /tmp/memkv-compare.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_ping() {
  for _ in $(seq 100); do
    redis-cli -p "$1" PING 2>/dev/null | grep -q PONG && return 0
    sleep 0.1
  done
  echo "compare.sh: server on port $1 did not start" >&2; exit 1
}

MEMKV_ARGS=(--bind 127.0.0.1 --loglevel warning)
REDIS_PERSIST=(--save '' --appendonly no)
if [ "$PERSIST" = 1 ]; then
  MEMKV_ARGS+=(--persistence on --fsync interval --dir "$WORK/memkv-data")
  MEMKV_PERSIST="--fsync interval"
  REDIS_PERSIST=(--save '' --appendonly yes --appendfsync everysec)
elif "$MEMKV" --help 2>&1 | grep -q -- '--persistence'; then
  MEMKV_ARGS+=(--persistence off)
  MEMKV_PERSIST="--persistence off"
else
  MEMKV_PERSIST="no persistence in this build"
fi
# shellcheck disable=SC2206
[ -z "$EXTRA_ARGS" ] || { MEMKV_ARGS+=($EXTRA_ARGS); MEMKV_PERSIST="$MEMKV_PERSIST $EXTRA_ARGS"; }
PORT_A=$(free_port)
(cd "$WORK" && exec "$MEMKV" --port "$PORT_A" "${MEMKV_ARGS[@]}") >"$WORK/memkv.log" 2>&1 &
PIDS+=($!)
PORT_B=$(free_port)
"$REDIS" --port "$PORT_B" --bind 127.0.0.1 "${REDIS_PERSIST[@]}" --dir "$WORK" \
  --logfile "$WORK/redis.log" --daemonize no --protected-mode no >/dev/null 2>&1 &
PIDS+=($!)
wait_ping "$PORT_A"
wait_ping "$PORT_B"

# The key space every workload reads: loaded once per server.
for p in "$PORT_A" "$PORT_B"; do
  "$BENCH" --port "$p" --load --keys "$KEYS" --ratio 1:0:0 -t 1 -c 1 -n 1 -q >/dev/null
done

# Workloads: id | tool | title | arguments (mem-kv-bench: 2 threads x 25
# connections = 50 clients; redis-benchmark: -c 50).
MKB_BASE="-t 2 -c 25 --keys $KEYS -d $DUR -q"
WORKLOADS=(
  "set1|rb|SET, pipeline 1 (redis-benchmark)|-t set -c 50 -P 1 -n $RB_P1 -r $KEYS -d 32"
  "get1|rb|GET, pipeline 1 (redis-benchmark)|-t get -c 50 -P 1 -n $RB_P1 -r $KEYS -d 32"
  "set16|rb|SET, pipeline 16 (redis-benchmark)|-t set -c 50 -P 16 -n $RB_P16 -r $KEYS -d 32"
  "get16|rb|GET, pipeline 16 (redis-benchmark)|-t get -c 50 -P 16 -n $RB_P16 -r $KEYS -d 32"
  "mset1|mkb|SET, pipeline 1|$MKB_BASE -P 1 --ratio 1:0:0"
  "mget1|mkb|GET, pipeline 1|$MKB_BASE -P 1 --ratio 0:1:0"
  "mset16|mkb|SET, pipeline 16|$MKB_BASE -P 16 --ratio 1:0:0"
  "mget16|mkb|GET, pipeline 16|$MKB_BASE -P 16 --ratio 0:1:0"
  "zipf|mkb|80/20 GET/SET, zipf 0.99, pipeline 1|$MKB_BASE -P 1 --ratio 1:4:0 --key-pattern zipf"
  "mget10|mkb|MGET of 10 keys, pipeline 1|$MKB_BASE -P 1 --ratio 0:0:1 --mget-keys 10"
  "fvset|mkb|feature vectors: HSET 32 fields of 8 B, pipeline 1|$MKB_BASE -P 1 --key-prefix fv: --ratio 0:0:0:1:0 --fields 32 -v 8"
  "fvget|mkb|feature vectors: HMGET 32 fields (+1 HSET per 10), pipeline 1|$MKB_BASE -P 1 --key-prefix fv: --ratio 0:0:0:1:10 --fields 32 -v 8"
  "open|mkb|GET open loop at RATE req/s|$MKB_BASE -P 1 --ratio 0:1:0 --rate RATE"
)

# run_one SERVER(A|B) PORT ID TOOL ARGS -> appends "server id rps p50 p99 p999" (ms)
RESULTS="$WORK/results.txt"
run_one() {
  local srv=$1 port=$2 id=$3 tool=$4 args=$5 out="$WORK/$1.$3.out"
  if [ "$tool" = rb ]; then
    # shellcheck disable=SC2086
    "$RB" -h 127.0.0.1 -p "$port" $args --csv >"$out" 2>&1 || true
    $PY - "$out" "$srv" "$id" >>"$RESULTS" <<'EOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
hdr, vals = rows[0], rows[-1]
d = dict(zip(hdr, vals))
print(sys.argv[2], sys.argv[3], d["rps"], d["p50_latency_ms"], d["p99_latency_ms"], "nan")
EOF
  else
    # shellcheck disable=SC2086
    "$BENCH" --port "$port" $args --json "$out.json" >"$out" 2>&1 || true
    $PY - "$out.json" "$srv" "$id" >>"$RESULTS" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
l = d["commands"]["ALL"]["latency_ms"]
bad = d["errors"]
print(sys.argv[2], sys.argv[3], d["throughput_rps"] if not bad else "nan", l["p50"], l["p99"], l["p99.9"])
EOF
  fi
}

median() { # id server field(3..6)
  awk -v s="$2" -v i="$1" -v f="$3" '$1==s && $2==i && $f!="nan" {print $f}' "$RESULTS" |
    sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

: >"$RESULTS"
START=$(date +%s)
RATE=""
for round in $(seq "$ROUNDS"); do
  for w in "${WORKLOADS[@]}"; do
    IFS='|' read -r id tool title args <<<"$w"
    [ -z "$ONLY" ] || [[ $ONLY == *",$id,"* ]] || continue
    if [ "$id" = open ]; then
      # half of Redis's closed-loop GET rate (mem-kv-bench, pipeline 1), fixed after round 1
      [ -n "$RATE" ] || RATE=$(median mget1 B 3 | awk '{printf "%d", $1/2}')
      args=${args//RATE/$RATE}
    fi
    echo "round $round/$ROUNDS: $id" >&2
    run_one A "$PORT_A" "$id" "$tool" "$args"
    run_one B "$PORT_B" "$id" "$tool" "$args"
  done
done
ELAPSED=$(( $(date +%s) - START ))

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a=="nan" || b=="nan" || b+0==0) print "–"; else printf "%.2f", a/b }'; }
fmt_rps() { awk -v v="$1" 'BEGIN { if (v=="nan") print "–"; else printf "%.0f", v }'; }
fmt_ms() { awk -v v="$1" 'BEGIN { if (v=="nan") print "–"; else printf "%.3f", v }'; }

echo
echo "mem-kv: $MEMKV ($MEMKV_PERSIST; defaults otherwise) on port $PORT_A"
echo "Redis: $("$REDIS" --version | awk '{print $3}' | sed 's/^v=//') (${REDIS_PERSIST[*]}) on port $PORT_B"
echo "$ROUNDS rounds, A B A B order, medians; ${DUR}s mem-kv-bench runs (2 threads x 25 connections);"
echo "redis-benchmark -c 50 -n $RB_P1 (pipeline 1) / $RB_P16 (pipeline 16); $KEYS keys, 32-byte values;"
echo "open loop at ${RATE:-?} req/s; latency in ms; ratio = mem-kv / Redis (latency: lower is better); ${ELAPSED}s"
echo
echo "| workload | mem-kv req/s | Redis req/s | ratio | mem-kv p50 | Redis p50 | mem-kv p99 | Redis p99 | ratio p99 | mem-kv p99.9 | Redis p99.9 |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for w in "${WORKLOADS[@]}"; do
  IFS='|' read -r id tool title args <<<"$w"
  [ -z "$ONLY" ] || [[ $ONLY == *",$id,"* ]] || continue
  title=${title//RATE/$RATE}
  ra=$(median "$id" A 3); rb=$(median "$id" B 3)
  a50=$(median "$id" A 4); b50=$(median "$id" B 4)
  a99=$(median "$id" A 5); b99=$(median "$id" B 5)
  a999=$(median "$id" A 6); b999=$(median "$id" B 6)
  echo "| $title | $(fmt_rps "$ra") | $(fmt_rps "$rb") | $(ratio "$ra" "$rb") | $(fmt_ms "$a50") | $(fmt_ms "$b50") | $(fmt_ms "$a99") | $(fmt_ms "$b99") | $(ratio "$a99" "$b99") | $(fmt_ms "$a999") | $(fmt_ms "$b999") |"
done
