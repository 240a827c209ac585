#!/usr/bin/env bash
# evict_hitrate.sh - the hit rate of mem-kv's eviction against Redis's, with
# the same --maxmemory and policy, and the latency eviction adds.
#
# For each server (mem-kv, Redis, and mem-kv without a limit as the latency
# baseline): start it with persistence off, SET every key of the key space
# once (more than the limit holds, so the fill already evicts), then run a
# zipfian SET:GET mix with mem-kv-bench and read the GET hit rate from its
# JSON. mem-kv's STATS tell how long each eviction run took.
#
# Usage: bench/evict_hitrate.sh [--maxmemory 32mb] [--policy allkeys-lru]
#          [--keys 1000000] [--value-size 100] [--duration 10] [--ratio 1:10:0]
#          [--zipf-s 0.99] [--memkv PATH] [--bench PATH] [--redis PATH]
# Prints a markdown table. Not part of ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh # free_port, wait_ping, PIDS, cleanup

MAXMEM=32mb
POLICY=allkeys-lru
KEYS=1000000
VSIZE=100
DUR=10
RATIO=1:10:0
ZIPF=0.99

while [ $# -gt 0 ]; do
  case "$1" in
    --maxmemory) MAXMEM=$2; shift 2 ;;
    --policy) POLICY=$2; shift 2 ;;
    --keys) KEYS=$2; shift 2 ;;
    --value-size) VSIZE=$2; shift 2 ;;
    --duration) DUR=$2; shift 2 ;;
    --ratio) RATIO=$2; shift 2 ;;
    --zipf-s) ZIPF=$2; shift 2 ;;
    --memkv) MEMKV=$2; shift 2 ;;
    --bench) BENCH=$2; shift 2 ;;
    --redis) REDIS=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "evict_hitrate.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
MEMKV=$(realpath "$MEMKV"); BENCH=$(realpath "$BENCH")
bench_need "$MEMKV" "$BENCH" "$REDIS" "$PY"

bench_workdir hitrate
PID=
stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=; }

# run NAME: loads, measures, writes $WORK/NAME.json and $WORK/NAME.info
run() {
  local name=$1 port=$2
  wait_ping "$port"
  "$BENCH" -p "$port" -q --load --keys "$KEYS" -v "$VSIZE" -c 1 -n 1 >/dev/null 2>&1 || true
  "$BENCH" -p "$port" -q -t 1 -c 20 -P 4 --keys "$KEYS" -v "$VSIZE" --key-pattern zipf \
    --zipf-s "$ZIPF" --ratio "$RATIO" -d "$DUR" --json "$WORK/$name.json" >/dev/null 2>&1 || true
  { redis-cli -p "$port" INFO memory; redis-cli -p "$port" INFO stats;
    redis-cli -p "$port" INFO keyspace; } | tr -d '\r' > "$WORK/$name.info"
  redis-cli -p "$port" STATS > "$WORK/$name.stats" 2>/dev/null || true
  stop
}

port=$(free_port)
"$MEMKV" --port "$port" --persistence off --maxmemory "$MAXMEM" --maxmemory-policy "$POLICY" \
  > "$WORK/memkv.log" 2>&1 & PID=$!; PIDS+=("$PID")
run memkv "$port"
port=$(free_port)
"$REDIS" --port "$port" --save '' --appendonly no --maxmemory "$MAXMEM" \
  --maxmemory-policy "$POLICY" --logfile "$WORK/redis.log" & PID=$!; PIDS+=("$PID")
run redis "$port"
port=$(free_port)
"$MEMKV" --port "$port" --persistence off > "$WORK/nolimit.log" 2>&1 & PID=$!; PIDS+=("$PID")
run nolimit "$port"

$PY - "$WORK" "$MAXMEM" "$POLICY" "$KEYS" "$VSIZE" "$DUR" "$RATIO" "$ZIPF" <<'EOF'
import json, sys
work, maxmem, policy, keys, vsize, dur, ratio, zipf = sys.argv[1:]
def info(name):
    d = {}
    for line in open("%s/%s.info" % (work, name)):
        if ":" in line:
            k, v = line.strip().split(":", 1)
            d[k] = v
    return d
def bench(name):
    j = json.load(open("%s/%s.json" % (work, name)))
    return j
print("maxmemory %s, %s, %s keys of %s B, zipf s=%s, SET:GET %s, %s s, 20 connections x4" % (
    maxmem, policy, keys, vsize, zipf, ratio, dur))
print()
print("| server | GET hit rate | keys held | evicted_keys | used_memory | rss | ops/s | p99 ms | p99.9 ms | max ms |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
rates = {}
for name, label in (("memkv", "mem-kv"), ("redis", "Redis"), ("nolimit", "mem-kv, no limit")):
    try:
        j = bench(name)
    except Exception as e:
        print("| %s | (no result: %s) |" % (label, e)); continue
    i = info(name)
    cmds = j.get("commands", {})
    get = cmds.get("GET", {})
    hits, misses = get.get("hits", 0), get.get("misses", 0)
    rate = 100.0 * hits / (hits + misses) if hits + misses else 0.0
    rates[name] = rate
    lat = cmds.get("ALL", {}).get("latency_ms", {})
    db0 = i.get("db0", "keys=0").split(",")[0].split("=")[1]
    print("| %s | %.2f %% | %s | %s | %.1f MB | %.1f MB | %.0f | %s | %s | %s |" % (
        label, rate, db0, i.get("evicted_keys", "?"), int(i["used_memory"]) / 2**20,
        int(i["used_memory_rss"]) / 2**20, j.get("throughput_rps", 0), lat.get("p99", "?"),
        lat.get("p99.9", "?"), lat.get("max", "?")))
if "memkv" in rates and "redis" in rates:
    print()
    print("hit rate difference mem-kv - Redis: %+.2f points" % (rates["memkv"] - rates["redis"]))
try:
    st = json.load(open("%s/memkv.stats" % work))
    ev = st.get("eviction", {})
    print("mem-kv eviction runs: %s, time per run mean %s us, p99 %s us, max %s us" % (
        ev.get("runs"), ev.get("usec_mean"), ev.get("usec_p99"), ev.get("usec_max")))
except Exception as e:
    print("mem-kv STATS not read: %s" % e)
EOF
