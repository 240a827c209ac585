# lib.sh - the helpers every shell script of bench/ shares; sourced, never run:
#   cd "$(dirname "$0")/.." && . bench/lib.sh     (from the project root)
#
#   free_port              prints a free TCP port on 127.0.0.1
#   wait_ping PORT [SECS]  waits until PORT answers PONG (default 10 s; more
#                          under valgrind); else a message and exit 1
#   PIDS+=("$!")           servers started in the background: cleanup kills them
#   bench_workdir NAME     WORK=a new /tmp/memkv-NAME.XXXXXX, removed by cleanup
#   cleanup                kills PIDS, waits for them, removes the workdir;
#                          installed as the EXIT trap
#   bench_need FILE...     each must be an executable: else a message, exit 2
#   MEMKV BENCH REDIS PY   the default programs (a script's options may change them)
# Messages name the script that sourced this file.

BENCH_PY=${BENCH_PY:-/usr/bin/python3}
MEMKV=build/mem-kv-server
BENCH=build/mem-kv-bench
REDIS=$(command -v redis-server || echo /usr/bin/redis-server)
PY=$BENCH_PY
PIDS=()
BENCH_TMP=

free_port() {
  "$BENCH_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_ping() {
  local port=$1 tries=$(( ${2:-10} * 10 ))
  for _ in $(seq "$tries"); do
    [ "$(redis-cli -p "$port" PING 2>/dev/null)" = PONG ] && return 0
    sleep 0.1
  done
  echo "$(basename "$0"): no PONG from the server on port $port" >&2
  exit 1
}

bench_workdir() {
  WORK=$(mktemp -d "/tmp/memkv-$1.XXXXXX")
  BENCH_TMP=$WORK
}

bench_need() {
  local f
  for f in "$@"; do
    [ -x "$f" ] || { echo "$(basename "$0"): $f not found (build first: cmake --build build)" >&2; exit 2; }
  done
}

cleanup() {
  local p
  for p in "${PIDS[@]}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "$BENCH_TMP" ] && rm -rf "$BENCH_TMP"
  return 0
}
trap cleanup EXIT
