#!/usr/bin/env bash
# Installs what mem-kv needs to build, test and compare against Redis, from
# Debian 12's archive. Idempotent; uses sudo when not run as root.
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config         # toolchain
  libck-dev libev-dev                      # Concurrency Kit, libev
  libcmocka-dev                            # unit tests
  libssl-dev openssl                       # TLS (--tls-port); openssl makes test certificates
  liblua5.1-0-dev                          # Lua 5.1 for EVAL/EVALSHA (as Redis's scripting)
  libjemalloc-dev                          # the allocator (-DMEMKV_ALLOCATOR=jemalloc, the default)
  liburing-dev                             # io_uring network backend (-DMEMKV_URING, --io-backend)
  redis-server redis-tools                 # differential tests, redis-cli, redis-benchmark
  python3 python3-redis netcat-openbsd     # integration tests: client library, nc
  procps                                   # ps/pkill for scripts
  prometheus                               # promtool: checks the /metrics page in a test
  prometheus-redis-exporter                # integ_observability: Redis dashboards' families
  nutcracker                               # twemproxy: the scale-out test (label cluster)
  clang libclang-rt-14-dev                 # libFuzzer targets (tests/fuzz, scripts/test.sh)
)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm for the ioredis test (integ_script installs ioredis with npm);
# Debian's, unless a node with npm is on the machine already
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps.sh: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian starts a redis-server service on install where systemd runs; the
# tests start their own on free ports and do not need it.
