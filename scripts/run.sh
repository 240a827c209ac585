#!/usr/bin/env bash
# Builds the Release configuration into build/ and starts mem-kv-server in
# the foreground with any options given (see build/mem-kv-server --help).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
exec build/mem-kv-server "$@"
