#!/usr/bin/env bash
# compare.sh - mem-kv against Redis on this machine, with the same workloads
# from the same load generators (mem-kv-bench and redis-benchmark).
#
# Starts build/mem-kv-server and Debian's redis-server on free loopback
# ports, persistence off on both (mem-kv: --persistence off when the binary
# has the option; Redis: --save '' --appendonly no), runs every workload
# against A (mem-kv) then B (Redis), round after round (A B A B ...), and
# prints one markdown table of medians: throughput and p50/p99/p99.9 for each
# server and the ratio mem-kv / Redis. Then the issue-14 scorecard: each
# figure as a ratio mem-kv / Redis of the same run, against its target:
#   ttl  bench/expire_idle.py: 1 M keys set with EX 86400 (mem-kv, Redis) and
#        without (mem-kv): idle CPU, open-loop GET p50/p99/p99.9 at fixed
#        rates (--ttl-rates), servers alternated
#   cpu  bench/cpu_per_req.py: server CPU per request at pipeline 1 and 16
#        for SET, GET, MGET-10 (redis-benchmark, 50 clients), with the
#        closed-loop p99 at pipeline 1 and MGET-10 keys/s of the same runs
#   values  bench/cpu_per_req.py --values (issue 20): server CPU per request
#        and throughput for SET/GET of 4 KB, 16 KB, 256 KB, 1 MB values and
#        MGET of 10 x 16 KB (redis-benchmark, 20 clients, pipeline 1); only
#        with --only values (about 3 minutes a round on 2 cores)
# These start their own servers, persistence off whatever --persist says.
#
# Usage: bench/compare.sh [--quick] [--rounds N] [--duration S]
#                         [--memkv PATH] [--bench PATH] [--redis PATH]
#   --quick     1 round, 1 s runs, smaller redis-benchmark counts, 2 s TTL
#               runs, a quarter of cpu_per_req.py's requests (~3 minutes)
#   --only IDS  only these workloads (comma-separated ids, e.g. fvset,fvget
#               or ttl,cpu): the ids of WORKLOADS below, ttl and cpu
#   --memkv-args "ARGS"  extra mem-kv options, e.g. "--threads 1"
#   --persist   persistence on both: mem-kv --fsync interval (its default) in
#               a temporary --dir, Redis --appendonly yes --appendfsync everysec
#   --ttl-rates R1,R2  open-loop GET rates of the ttl workload (2000,20000)
#   --ttl-keys N       keys of the ttl workload (1000000)
#   --ttl-duration S   seconds of each open-loop GET run of the ttl workload,
#                      and of its idle CPU measure (10; --quick 2)
#   --cpu-scale F      scale of cpu_per_req.py's request counts (1; --quick 0.25)
#   default     3 rounds, 4 s runs, 10 s TTL runs (about 17 minutes on 2 cores)
# Needs python3 (for JSON), redis-server, redis-benchmark. Not part of ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh # free_port, wait_ping, PIDS, cleanup

RB=$(command -v redis-benchmark || echo /usr/bin/redis-benchmark)
ROUNDS=""
DUR=4
RB_P1=200000
RB_P16=1000000
KEYS=100000
ONLY=""
EXTRA_ARGS=""
PERSIST=0
QUICK=0
TTL_RATES=2000,20000
TTL_KEYS=1000000
TTL_DUR=""
CPU_SCALE=""

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; DUR=1; RB_P1=50000; RB_P16=250000; shift ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DUR=$2; shift 2 ;;
    --memkv) MEMKV=$2; shift 2 ;;
    --bench) BENCH=$2; shift 2 ;;
    --redis) REDIS=$2; shift 2 ;;
    --only) ONLY=",$2,"; shift 2 ;;
    --memkv-args) EXTRA_ARGS=$2; shift 2 ;;
    --persist) PERSIST=1; shift ;;
    --ttl-rates) TTL_RATES=$2; shift 2 ;;
    --ttl-keys) TTL_KEYS=$2; shift 2 ;;
    --ttl-duration) TTL_DUR=$2; shift 2 ;;
    --cpu-scale) CPU_SCALE=$2; shift 2 ;;
    -h|--help) sed -n '2,35p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ "$QUICK" = 1 ]; then
  : "${ROUNDS:=1}" "${TTL_DUR:=2}" "${CPU_SCALE:=0.25}"
else
  : "${ROUNDS:=3}" "${TTL_DUR:=10}" "${CPU_SCALE:=1}"
fi
# the ttl workload: TTL_DUR s measured after min(2, TTL_DUR/2) s of warm-up;
# idle CPU over TTL_DUR s after min(5, TTL_DUR/2) s of settling
TTL_WARM=$(awk -v d="$TTL_DUR" 'BEGIN { print (d / 2 < 2 ? d / 2 : 2) }')
TTL_SETTLE=$(awk -v d="$TTL_DUR" 'BEGIN { print (d / 2 < 5 ? d / 2 : 5) }')
MEMKV=$(realpath "$MEMKV"); BENCH=$(realpath "$BENCH")
bench_need "$MEMKV" "$BENCH" "$REDIS" "$RB" "$PY"

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
want() { [ -z "$ONLY" ] || [[ $ONLY == *",$1,"* ]]; }
named() { [[ $ONLY == *",$1,"* ]]; } # workloads run only when --only names them
for id in ${ONLY//,/ }; do
  case "$id" in
    ttl|cpu|values) ;;
    *) printf '%s\n' "${WORKLOADS[@]}" | grep -q "^$id|" ||
         { echo "compare.sh: unknown workload id $id" >&2; exit 2; } ;;
  esac
done
MAIN=0 # any workload of the table (not ttl, cpu) selected
for w in "${WORKLOADS[@]}"; do want "${w%%|*}" && MAIN=1; done

bench_workdir compare
LOADS="$WORK/load.txt"
sample_load() { cut -d' ' -f1 /proc/loadavg >>"$LOADS"; }

MEMKV_ARGS=(--bind 127.0.0.1 --loglevel warning)
REDIS_PERSIST=(--save '' --appendonly no)
if [ "$PERSIST" = 1 ]; then
  MEMKV_ARGS+=(--persistence on --fsync interval --dir "$WORK/memkv-data")
  MEMKV_PERSIST="--fsync interval"
  REDIS_PERSIST=(--save '' --appendonly yes --appendfsync everysec)
elif [[ $("$MEMKV" --help 2>&1 || true) == *--persistence* ]]; then
  # (not "| grep -q": grep exits at the first match, --help may then die of
  # SIGPIPE and pipefail would call the option missing)
  MEMKV_ARGS+=(--persistence off)
  MEMKV_PERSIST="--persistence off"
else
  MEMKV_PERSIST="no persistence in this build"
fi
# shellcheck disable=SC2206
[ -z "$EXTRA_ARGS" ] || { MEMKV_ARGS+=($EXTRA_ARGS); MEMKV_PERSIST="$MEMKV_PERSIST $EXTRA_ARGS"; }

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
: >"$LOADS"
START=$(date +%s)
sample_load
RATE=""
if [ "$MAIN" = 1 ]; then
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

  for round in $(seq "$ROUNDS"); do
    for w in "${WORKLOADS[@]}"; do
      IFS='|' read -r id tool title args <<<"$w"
      want "$id" || continue
      if [ "$id" = open ]; then
        # half of Redis's closed-loop GET rate (mem-kv-bench, pipeline 1), fixed after round 1
        [ -n "$RATE" ] || RATE=$(median mget1 B 3 | awk '{printf "%d", $1/2}')
        args=${args//RATE/$RATE}
      fi
      echo "round $round/$ROUNDS: $id" >&2
      sample_load
      run_one A "$PORT_A" "$id" "$tool" "$args"
      run_one B "$PORT_B" "$id" "$tool" "$args"
    done
  done
  # done with these two: the ttl and cpu workloads start servers of their own
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
fi

# The issue-14 workloads, each its own script; --json hands over the figures.
if want ttl; then
  echo "ttl: $TTL_KEYS keys, open loop at $TTL_RATES req/s, $ROUNDS round(s)" >&2
  sample_load
  MQ="$(printf '%q' "$MEMKV") --persistence off $EXTRA_ARGS"
  $PY bench/expire_idle.py --bench "$BENCH" --keys "$TTL_KEYS" --rate "$TTL_RATES" \
    --rounds "$ROUNDS" --duration "$TTL_DUR" --warmup "$TTL_WARM" --idle "$TTL_DUR" \
    --settle "$TTL_SETTLE" --server "mem-kv=$MQ" --server "mem-kv-nottl=$MQ" \
    --no-ttl mem-kv-nottl --server "redis=$(printf '%q' "$REDIS")" \
    --json "$WORK/ttl.json" >"$WORK/ttl.md" 2>&1 ||
    { echo "compare.sh: the ttl workload failed:"; tail -5 "$WORK/ttl.md"; } >&2
fi
if want cpu; then
  echo "cpu: server CPU per request, $ROUNDS round(s)" >&2
  sample_load
  $PY bench/cpu_per_req.py --memkv "$MEMKV" --redis "$REDIS" --memkv-args "$EXTRA_ARGS" \
    --rounds "$ROUNDS" --scale "$CPU_SCALE" --json "$WORK/cpu.json" >"$WORK/cpu.md" 2>&1 ||
    { echo "compare.sh: the cpu workload failed:"; tail -5 "$WORK/cpu.md"; } >&2
fi
if named values; then
  echo "values: large values, CPU per request and throughput, $ROUNDS round(s)" >&2
  sample_load
  $PY bench/cpu_per_req.py --values --memkv "$MEMKV" --redis "$REDIS" \
    --memkv-args "$EXTRA_ARGS" --rounds "$ROUNDS" >"$WORK/values.md" 2>&1 ||
    { echo "compare.sh: the values workload failed:"; tail -5 "$WORK/values.md"; } >&2
fi
sample_load
ELAPSED=$(( $(date +%s) - START ))

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a=="nan" || b=="nan" || b+0==0) print "–"; else printf "%.2f", a/b }'; }
fmt_rps() { awk -v v="$1" 'BEGIN { if (v=="nan") print "–"; else printf "%.0f", v }'; }
fmt_ms() { awk -v v="$1" 'BEGIN { if (v=="nan") print "–"; else printf "%.3f", v }'; }

echo
echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, ${ELAPSED}s; load average (1 min) at each step:" \
  "$(sort -g "$LOADS" | awk '{a[NR]=$1} END {printf "%s-%s, median %s", a[1], a[NR], a[int((NR+1)/2)]}')"
if [ "$MAIN" = 1 ]; then
  echo "mem-kv: $MEMKV ($MEMKV_PERSIST; defaults otherwise) on port $PORT_A"
  echo "Redis: $("$REDIS" --version | awk '{print $3}' | sed 's/^v=//') ($(printf '%q ' "${REDIS_PERSIST[@]}" | sed 's/ $//')) on port $PORT_B"
  echo "$ROUNDS rounds, A B A B order, medians; ${DUR}s mem-kv-bench runs (2 threads x 25 connections);"
  echo "redis-benchmark -c 50 -n $RB_P1 (pipeline 1) / $RB_P16 (pipeline 16); $KEYS keys, 32-byte values;"
  echo "open loop at ${RATE:-?} req/s; latency in ms; ratio = mem-kv / Redis (latency: lower is better)"
  echo
  echo "| workload | mem-kv req/s | Redis req/s | ratio | mem-kv p50 | Redis p50 | mem-kv p99 | Redis p99 | ratio p99 | mem-kv p99.9 | Redis p99.9 |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for w in "${WORKLOADS[@]}"; do
    IFS='|' read -r id tool title args <<<"$w"
    want "$id" || continue
    title=${title//RATE/$RATE}
    ra=$(median "$id" A 3); rb=$(median "$id" B 3)
    a50=$(median "$id" A 4); b50=$(median "$id" B 4)
    a99=$(median "$id" A 5); b99=$(median "$id" B 5)
    a999=$(median "$id" A 6); b999=$(median "$id" B 6)
    echo "| $title | $(fmt_rps "$ra") | $(fmt_rps "$rb") | $(ratio "$ra" "$rb") | $(fmt_ms "$a50") | $(fmt_ms "$b50") | $(fmt_ms "$a99") | $(fmt_ms "$b99") | $(ratio "$a99" "$b99") | $(fmt_ms "$a999") | $(fmt_ms "$b999") |"
  done
fi

if named values; then
  echo
  echo "### Large values (issue 20): server CPU per request and throughput, mem-kv / Redis"
  echo "(targets: CPU <= 0.8x and throughput >= 1.25x at 16 KB and up; <= 1.0x and >= 1.0x at 4 KB)"
  echo
  cat "$WORK/values.md"
fi

want ttl || want cpu || exit 0
echo
echo "### Issue 14 scorecard"
echo
echo "mem-kv: $MEMKV (--persistence off${EXTRA_ARGS:+ $EXTRA_ARGS}; defaults otherwise);" \
  "Redis $("$REDIS" --version | awk '{print $3}' | sed 's/^v=//') (--save '' --appendonly no)"
$PY - "$WORK/ttl.json" "$WORK/cpu.json" "$(want ttl && echo 1)" "$(want cpu && echo 1)" <<'EOF'
import json, os, sys


def load(path, wanted):
    if not wanted:
        return None
    if not os.path.exists(path):
        print("\n(%s: no figures, the workload failed; its error is on stderr)"
              % os.path.basename(path))
        return None
    with open(path) as f:
        return json.load(f)


def ratio(a, b):
    if not b:
        return "–"
    return ("%.2f" if a / b >= 0.1 else "%.3f") % (a / b)


def met(ok):
    return "**yes**" if ok else "no"


ttl = load(sys.argv[1], sys.argv[3])
if ttl:
    s = {x["label"]: x for x in ttl["servers"]}
    m, n, r = s["mem-kv"], s["mem-kv-nottl"], s["redis"]
    print()
    print("TTL workload (bench/expire_idle.py): %d keys (16-byte keys, 32-byte values) set with "
          "EX %d, or without EX (\"no TTL\"); idle CPU over %g s, the three servers idle "
          "together; open-loop GET, mem-kv-bench 1 thread x %d connections, uniform keys (every "
          "GET a hit), %g s measured after %g s of warm-up, one server at a time, %d round(s), "
          "the servers' order reversed every other round; medians; latency in ms"
          % (ttl["keys"], m["ttl"], ttl["idle_s"], ttl["clients"], ttl["duration"],
             ttl["warmup"], ttl["rounds"]))
    print()
    print("| figure | mem-kv, EX | mem-kv, no TTL | Redis, EX | mem-kv EX / Redis | "
          "mem-kv EX / no TTL | target | met |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    a, b, c = m["idle_cpu_pct"], n["idle_cpu_pct"], r["idle_cpu_pct"]
    print("| idle CPU, %% of a core | %.1f | %.1f | %.1f | %s | %s | <= 1 %% of a core | %s |"
          % (a, b, c, ratio(a, c), ratio(a, b), met(a <= 1.0)))
    for rate in ttl["rates"]:
        k = str(rate)
        got = [x["median"][k]["rps"] for x in (m, n, r)]
        note = "short of the rate" if min(got) < 0.95 * rate else ""
        print("| GET at %d req/s: achieved req/s | %.0f | %.0f | %.0f | | | | %s |"
              % (rate, got[0], got[1], got[2], note))
        for p in ("p50", "p99", "p99.9"):
            a, b, c = (x["median"][k][p] for x in (m, n, r))
            tgt, ok = "", ""
            if p == "p99":
                tgt, ok = "<= 1.00x Redis, <= 1.20x no TTL", met(a <= c and a <= 1.2 * b)
            print("| GET at %d req/s: %s | %.3f | %.3f | %.3f | %s | %s | %s | %s |"
                  % (rate, p, a, b, c, ratio(a, c), ratio(a, b), tgt, ok))

cpu = load(sys.argv[2], sys.argv[4])
if cpu:
    w = {x["id"]: x for x in cpu["workloads"]}
    print()
    print("CPU per request (bench/cpu_per_req.py): the server's utime+stime (/proc) over "
          "redis-benchmark runs of -c %d -r %d (3-byte values), both servers up, %d round(s) "
          "alternating which goes first, medians; the closed-loop p99 and MGET-10 keys/s are "
          "redis-benchmark's figures of the same runs"
          % (cpu["clients"], cpu["keys"], cpu["rounds"]))
    print()
    print("| figure | mem-kv | Redis | mem-kv / Redis | target | met |")
    print("| --- | ---: | ---: | ---: | --- | --- |")
    for wid, tgt in (("set1", 0.8), ("get1", 0.8), ("mget10", 0.8), ("set16", 0.6),
                     ("get16", 0.6), ("mget10p16", None)):
        if wid in w:
            a, b = w[wid]["memkv"]["server_us"], w[wid]["redis"]["server_us"]
            print("| server CPU us/request, %s | %.2f | %.2f | %s | %s | %s |"
                  % (w[wid]["label"], a, b, ratio(a, b), "<= %.1fx" % tgt if tgt else "",
                     met(a <= tgt * b) if tgt else ""))
    for wid, tgt in (("set1", 1.0), ("get1", 1.0), ("mget10", None)):
        if wid in w:
            a, b = w[wid]["memkv"]["p99_ms"], w[wid]["redis"]["p99_ms"]
            print("| closed-loop p99 ms, %s | %.3f | %.3f | %s | %s | %s |"
                  % (w[wid]["label"], a, b, ratio(a, b), "<= 1.00x" if tgt else "",
                     met(a <= b) if tgt else ""))
    if "mget10" in w:
        a, b = 10 * w["mget10"]["memkv"]["rps"], 10 * w["mget10"]["redis"]["rps"]
        print("| MGET of 10 keys, pipeline 1: keys/s | %.0f | %.0f | %s | >= 1.00x | %s |"
              % (a, b, ratio(a, b), met(a >= b)))
EOF
