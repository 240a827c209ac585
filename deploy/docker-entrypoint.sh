#!/bin/bash
# docker-entrypoint.sh - starts mem-kv-server in the container image.
#
#   (no arguments)          mem-kv-server with the image defaults
#   --opt value ...         the same, plus these server options
#   mem-kv-server [--opt..] the same
#   anything else           run as given (e.g. mem-kv-bench -h host ..., bash)
#
# The server's options are assembled in this order (a later setting wins, as
# in mem-kv-server itself):
#   1. image defaults: --bind 0.0.0.0 --protected-mode no --dir /data
#      --metrics-port 9180 (protected mode would refuse every client from
#      outside the container while no password is set, as in the official
#      Redis image, which turns it off too)
#   2. --config FILE: $MEMKV_CONFIG, else /etc/mem-kv/mem-kv.conf if mounted
#   3. environment: every MEMKV_NAME=value becomes --name value, NAME lower-
#      cased with '_' -> '-' (MEMKV_PORT=7000 -> --port 7000,
#      MEMKV_IO_THREADS=2 -> --io-threads 2), in name order
#   4. the arguments given to the container
# The server then replaces this script (exec), so it is PID 1 and gets
# SIGTERM from `docker stop` directly. The port it will listen on is written
# to ${TMPDIR:-/tmp}/mem-kv.port for the HEALTHCHECK (mem-kv-healthcheck).
# tests/integration/test_entrypoint.py runs this script outside a container.
set -euo pipefail

if [[ $# -gt 0 && $1 == mem-kv-server ]]; then
  shift
elif [[ $# -gt 0 && $1 != -* ]]; then
  exec "$@"
fi

args=(--bind 0.0.0.0 --protected-mode no --dir /data --metrics-port 9180)
config=${MEMKV_CONFIG:-}
if [[ -z $config && -f /etc/mem-kv/mem-kv.conf ]]; then
  config=/etc/mem-kv/mem-kv.conf
fi
[[ -n $config ]] && args+=(--config "$config")

while IFS= read -r var; do
  [[ $var == MEMKV_CONFIG ]] && continue
  name=${var#MEMKV_}
  name=${name,,}
  args+=("--${name//_/-}" "${!var}")
done < <(compgen -e | grep '^MEMKV_' | LC_ALL=C sort)

args+=("$@")

# The effective port: the last `port` setting, whether a flag or a line of a
# config file named by --config (read in place, as the server does).
port=8080
file_port() { sed -n 's/^[[:space:]]*port[[:space:]]\+"\{0,1\}\([0-9]\+\).*/\1/Ip' "$1" 2>/dev/null | tail -1; }
for ((i = 0; i < ${#args[@]}; i++)); do
  a=${args[i]} next=${args[i + 1]:-}
  case $a in
    --port) port=$next ;;
    --port=*) port=${a#--port=} ;;
    --config) p=$(file_port "$next"); port=${p:-$port} ;;
    --config=*) p=$(file_port "${a#--config=}"); port=${p:-$port} ;;
  esac
done
echo "$port" >"${TMPDIR:-/tmp}/mem-kv.port" 2>/dev/null || true

exec mem-kv-server "${args[@]}"
