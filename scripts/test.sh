#!/usr/bin/env bash
# Builds mem-kv in the Debug configuration (ASan + UBSan, warnings as errors)
# and runs the whole test suite with ctest: cmocka unit tests per module and
# integration tests against the real binary, redis-server and redis-cli.
# Usage: scripts/test.sh [extra ctest args, e.g. -L unit]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-debug}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DMEMKV_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure --timeout 600 "$@"
