#!/usr/bin/env bash
# mem_per_field.sh - memory per hash field of a server: loads K hashes of F
# fields ("f0".."f<F-1>", values of V bytes) with HSET into a fresh server
# on a free loopback port (redis-cli --pipe), then reports INFO memory's
# used_memory and used_memory_rss growth per field and per hash.
#
#   bench/mem_per_field.sh [-k HASHES] [-f FIELDS] [-v VALUE_BYTES] [-s SERVER]
#   bench/mem_per_field.sh -k 100000 -f 16 -v 8               # packed (small) hashes
#   bench/mem_per_field.sh -k 2000 -f 1000 -v 8               # table (big) hashes
#   bench/mem_per_field.sh -k 100000 -f 16 -v 8 -s /usr/bin/redis-server
#
# Keys are "fv:" + a 12-digit index (15 bytes). mem-kv runs with
# --persistence off (the figure is the keyspace's); Redis with no save.
# Output: one markdown table row.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh # free_port, wait_ping, PIDS, cleanup
k=100000 f=16 vsize=8 server=build/mem-kv-server
while getopts "k:f:v:s:" o; do
  case $o in
    k) k=$OPTARG ;; f) f=$OPTARG ;; v) vsize=$OPTARG ;; s) server=$OPTARG ;;
    *) exit 2 ;;
  esac
done

port=$(free_port)
bench_workdir mem
tmp=$WORK
if [[ $(basename "$server") == redis-server ]]; then
  "$server" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
    --logfile "$tmp/log" --daemonize no &
else
  "$server" --port "$port" --bind 127.0.0.1 --dir "$tmp/data" --persistence off >"$tmp/log" 2>&1 &
fi
PIDS+=("$!")
wait_ping "$port"

field() { redis-cli -p "$port" INFO memory | tr -d '\r' | sed -n "s/^$1://p"; }
used0=$(field used_memory) rss0=$(field used_memory_rss)

/usr/bin/python3 - "$k" "$f" "$vsize" >"$tmp/cmds" <<'PY'
import sys
k, f, vsize = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
out = sys.stdout.buffer
val = b"v" * vsize
chunk = 100                      # fields per HSET
for i in range(k):
    key = b"fv:%012d" % i
    for s in range(0, f, chunk):
        n = min(chunk, f - s)
        parts = [b"*%d\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n" % (2 + 2 * n, len(key), key)]
        for j in range(s, s + n):
            name = b"f%d" % j
            parts.append(b"$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(name), name, vsize, val))
        out.write(b"".join(parts))
PY
redis-cli -p "$port" --pipe <"$tmp/cmds" >/dev/null
sleep 1
keys=$(redis-cli -p "$port" DBSIZE)
used1=$(field used_memory) rss1=$(field used_memory_rss)
[[ $keys -eq $k ]] || { echo "mem_per_field: loaded $keys hashes, expected $k" >&2; exit 1; }
awk -v s="$(basename "$server")" -v k="$k" -v f="$f" -v v="$vsize" \
    -v u0="$used0" -v u1="$used1" -v r0="$rss0" -v r1="$rss1" 'BEGIN {
  printf "| %s | %d | %d | %d | %.1f | %.1f | %.0f | %.0f |\n", s, k, f, v,
    (u1 - u0) / (k * f), (r1 - r0) / (k * f), (u1 - u0) / k, u1 / 1048576 }'
