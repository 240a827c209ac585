#!/usr/bin/env bash
# tls_figures.sh - GET throughput and latency over TLS against plain TCP, for
# mem-kv and Debian's redis-server (built with TLS) in the same run.
#
# Makes a CA and a server certificate (openssl, EC P-256) in a temp dir,
# starts mem-kv (--persistence off) and redis-server (--save ''
# --appendonly no), each with a plain port and a TLS port
# (--tls-auth-clients no), loads 100 000 keys of 32 bytes into each, then
# runs mem-kv-bench GET-only (pipeline 1, 2 threads x 25 connections) on
# the four targets in turn (mem-kv plain, mem-kv TLS, Redis plain, Redis
# TLS), round after round, and prints medians as a markdown table.
#
# Usage: bench/tls_figures.sh [--rounds N] [--duration S] [--pipeline N]
#                             [--memkv PATH] [--bench PATH] [--redis PATH]
# Defaults: 3 rounds of 3 s runs (about a minute). Not part of ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh # free_port, wait_ping, PIDS, cleanup

ROUNDS=3
DUR=3
PIPE=1
KEYS=100000
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DUR=$2; shift 2 ;;
    --pipeline) PIPE=$2; shift 2 ;;
    --memkv) MEMKV=$2; shift 2 ;;
    --bench) BENCH=$2; shift 2 ;;
    --redis) REDIS=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "tls_figures.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
MEMKV=$(realpath "$MEMKV"); BENCH=$(realpath "$BENCH")
bench_need "$MEMKV" "$BENCH" "$REDIS" "$PY"

bench_workdir tls-figures

ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
(cd "$WORK" &&
  openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 2 -subj /CN=bench-ca &&
  openssl req "${ec[@]}" -keyout server.key -out server.csr -subj /CN=localhost &&
  echo "subjectAltName=DNS:localhost,IP:127.0.0.1" > san.ext &&
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
    -out server.crt -days 2 -extfile san.ext) >/dev/null 2>&1
TLS=(--tls-cert-file "$WORK/server.crt" --tls-key-file "$WORK/server.key" --tls-auth-clients no)

MP=$(free_port); MT=$(free_port); RP=$(free_port); RT=$(free_port)
"$MEMKV" --port "$MP" --tls-port "$MT" "${TLS[@]}" --persistence off --loglevel warning \
  >"$WORK/memkv.log" 2>&1 &
PIDS+=($!)
"$REDIS" --port "$RP" --tls-port "$RT" "${TLS[@]}" --save '' --appendonly no \
  --dir "$WORK" --logfile "$WORK/redis.log" &
PIDS+=($!)
wait_ping "$MP"; wait_ping "$RP"
for p in "$MP" "$RP"; do
  "$BENCH" -p "$p" --load -k $KEYS -r 0:1:0 -n 1 -c 1 -q >/dev/null
done

declare -A NAME=([mp]="mem-kv, plain" [mt]="mem-kv, TLS" [rp]="Redis, plain" [rt]="Redis, TLS")
declare -A ARGS=([mp]="-p $MP" [mt]="-p $MT --tls --cacert $WORK/ca.crt"
                 [rp]="-p $RP" [rt]="-p $RT --tls --cacert $WORK/ca.crt")
ORDER=(mp mt rp rt)
t0=$(date +%s)
for r in $(seq "$ROUNDS"); do
  for k in "${ORDER[@]}"; do
    # shellcheck disable=SC2086
    "$BENCH" ${ARGS[$k]} -t 2 -c 25 -P "$PIPE" -d "$DUR" -r 0:1:0 -k $KEYS -q \
      --json "$WORK/$k.$r.json" >/dev/null
  done
done
echo "mem-kv: $MEMKV (--persistence off) ports $MP/$MT; Redis: $("$REDIS" --version | cut -d' ' -f3) ports $RP/$RT"
echo "GET only, mem-kv-bench 2 threads x 25 connections, pipeline $PIPE, ${DUR}s runs, $ROUNDS rounds (medians), $KEYS keys of 32 B; $(( $(date +%s) - t0 ))s"
echo
$PY - "$WORK" "$ROUNDS" <<'EOF'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
names = [("mp", "mem-kv, plain"), ("mt", "mem-kv, TLS"), ("rp", "Redis, plain"), ("rt", "Redis, TLS")]
def med(k, f):
    return statistics.median(f(json.load(open("%s/%s.%d.json" % (work, k, r))))
                             for r in range(1, rounds + 1))
print("| target | GET req/s | vs plain | p50 ms | p99 ms | p99.9 ms |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
rows = {}
for k, n in names:
    rows[k] = (med(k, lambda d: d["throughput_rps"]),) + tuple(
        med(k, lambda d, q=q: d["commands"]["GET"]["latency_ms"][q]) for q in ("p50", "p99", "p99.9"))
for k, n in names:
    base = rows[k[0] + "p"][0]
    t, p50, p99, p999 = rows[k]
    print("| %s | %.0f | %.2f | %.3f | %.3f | %.3f |" % (n, t, t / base, p50, p99, p999))
EOF
