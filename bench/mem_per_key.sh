#!/usr/bin/env bash
# mem_per_key.sh - memory per key of a server: loads N keys of 16 bytes with
# 32-byte values (optionally with a TTL) into a fresh server on a free
# loopback port with redis-cli --pipe, then reports INFO memory's
# used_memory and used_memory_rss before and after, per key.
#
#   bench/mem_per_key.sh [-n KEYS] [-v VALUE_BYTES] [-t TTL_SECONDS] [-s SERVER] [-- SERVER ARGS]
#   bench/mem_per_key.sh -n 1000000                         # build/mem-kv-server
#   bench/mem_per_key.sh -n 1000000 -t 3600                 # with SET ... EX 3600
#   bench/mem_per_key.sh -n 1000000 -s /usr/bin/redis-server  # the same for Redis
#
# Keys are "key:" + a 12-digit index (16 bytes). mem-kv runs with
# --persistence off unless server arguments are given (the figure is the
# keyspace's, not the log's); Redis with no save/appendonly.
# Output: one markdown table row.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh # free_port, wait_ping, PIDS, cleanup
n=1000000 vsize=32 ttl=0 server=build/mem-kv-server
while getopts "n:v:t:s:" o; do
  case $o in
    n) n=$OPTARG ;; v) vsize=$OPTARG ;; t) ttl=$OPTARG ;; s) server=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[[ ${1:-} == -- ]] && shift
extra=("$@")

port=$(free_port)
bench_workdir mem
tmp=$WORK
if [[ $(basename "$server") == redis-server ]]; then
  "$server" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
    --logfile "$tmp/log" --daemonize no "${extra[@]}" &
else
  [[ ${#extra[@]} -eq 0 ]] && extra=(--persistence off)
  "$server" --port "$port" --bind 127.0.0.1 --dir "$tmp/data" "${extra[@]}" >"$tmp/log" 2>&1 &
fi
PIDS+=("$!")
wait_ping "$port"

field() { redis-cli -p "$port" INFO memory | tr -d '\r' | sed -n "s/^$1://p"; }
used0=$(field used_memory) rss0=$(field used_memory_rss)

/usr/bin/python3 - "$n" "$vsize" "$ttl" >"$tmp/cmds" <<'PY'
import sys
n, vsize, ttl = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
out = sys.stdout.buffer
val = b"v" * vsize
tail = b"$2\r\nEX\r\n$%d\r\n%d\r\n" % (len(str(ttl)), ttl) if ttl else b""
head = b"*5\r\n$3\r\nSET\r\n" if ttl else b"*3\r\n$3\r\nSET\r\n"
for i in range(n):
    out.write(head + b"$16\r\nkey:%012d\r\n$%d\r\n%s\r\n" % (i, vsize, val) + tail)
PY
redis-cli -p "$port" --pipe <"$tmp/cmds" >/dev/null
sleep 1
keys=$(redis-cli -p "$port" DBSIZE)
used1=$(field used_memory) rss1=$(field used_memory_rss)
[[ $keys -eq $n ]] || { echo "mem_per_key: loaded $keys keys, expected $n" >&2; exit 1; }
awk -v s="$(basename "$server")" -v n="$n" -v v="$vsize" -v t="$ttl" \
    -v u0="$used0" -v u1="$used1" -v r0="$rss0" -v r1="$rss1" 'BEGIN {
  printf "| %s | %d | %d | %s | %.1f | %.1f | %.0f | %.0f |\n", s, n, v, t ? "EX " t : "none",
    (u1 - u0) / n, (r1 - r0) / n, u1 / 1048576, r1 / 1048576 }'
