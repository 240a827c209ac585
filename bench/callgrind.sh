#!/usr/bin/env bash
# Instructions per request, server side, under callgrind: mem-kv against
# redis-server with the same client load (issue 5, target 6). A bench, not a
# test; it does not depend on machine noise.
#
# For each server and each command: two runs under valgrind --tool=callgrind
# (whole process, all threads), the same warm-up (KEYS keys SET once), then
# redis-benchmark with N1 and N2 requests of the command; the figure is
# (Ir(N2) - Ir(N1)) / (N2 - N1), so start-up, warm-up and shutdown cancel
# out. Persistence is off on both (mem-kv --persistence off; redis --save ''
# --appendonly no).
#
# Usage: bench/callgrind.sh [-- extra mem-kv-server args]
# Env: BUILD (build), CLIENTS (50), PIPELINE (1), N1 (10000), N2 (60000),
#      KEYS (10000), TESTS ("get set"), SERVERS ("memkv redis"), OUT (a tmp dir;
#      the callgrind files stay there for callgrind_annotate).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh # free_port, wait_ping, PIDS, cleanup
BUILD=${BUILD:-build}
CLIENTS=${CLIENTS:-50}
PIPELINE=${PIPELINE:-1}
N1=${N1:-10000}
N2=${N2:-60000}
KEYS=${KEYS:-10000}
TESTS=${TESTS:-get set}
SERVERS=${SERVERS:-memkv redis}
OUT=${OUT:-$(mktemp -d /tmp/memkv-callgrind.XXXXXX)}
[[ "${1:-}" == "--" ]] && shift
EXTRA=("$@")
SERVER=$BUILD/mem-kv-server
[[ -x $SERVER ]] || { echo "missing $SERVER (cmake --build $BUILD)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind not found" >&2; exit 1; }
mkdir -p "$OUT"


# run SERVER TEST N -> prints total Ir
run() {
  local srv=$1 test=$2 n=$3 port out pid
  port=$(free_port)
  out=$OUT/$srv-$test-$n.out
  case $srv in
    memkv) valgrind --tool=callgrind --callgrind-out-file="$out" "$SERVER" --port "$port" \
             --persistence off "${EXTRA[@]}" >"$OUT/$srv.log" 2>&1 & ;;
    redis) valgrind --tool=callgrind --callgrind-out-file="$out" redis-server --port "$port" \
             --bind 127.0.0.1 --save '' --appendonly no --protected-mode no >"$OUT/$srv.log" 2>&1 & ;;
  esac
  pid=$!
  wait_ping "$port" 120 # valgrind starts slowly
  redis-benchmark -p "$port" -t set -n "$KEYS" -r "$KEYS" -c "$CLIENTS" -q >/dev/null 2>&1
  redis-benchmark -p "$port" -t "$test" -n "$n" -r "$KEYS" -c "$CLIENTS" -P "$PIPELINE" -q >/dev/null 2>&1
  redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  wait "$pid" || true
  awk '/^(summary|totals):/ {print $2; exit}' "$out"
}

echo "# callgrind, $(date -u +%Y-%m-%dT%H:%MZ), redis-benchmark -c $CLIENTS -P $PIPELINE -r $KEYS, N $N1 -> $N2; files in $OUT"
for test in $TESTS; do
  declare -A per=()
  for srv in $SERVERS; do
    a=$(run "$srv" "$test" "$N1"); b=$(run "$srv" "$test" "$N2")
    per[$srv]=$(( (b - a) / (N2 - N1) ))
    echo "$test $srv: $(( per[$srv] )) instructions per request (Ir $a at $N1, $b at $N2)"
  done
  if [[ -n "${per[memkv]:-}" && -n "${per[redis]:-}" ]]; then
    /usr/bin/python3 -c "print('$test mem-kv / redis = %.2f' % (${per[memkv]} / ${per[redis]}))"
  fi
  unset per
done
