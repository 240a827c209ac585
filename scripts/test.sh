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
# Two tests at a time (one per core); the load-heavy and timing-sensitive ones
# are RUN_SERIAL in tests/integration/CMakeLists.txt, so they run alone.
(cd "$build" && ctest -j"$(nproc)" --output-on-failure --timeout 600 "$@")

# With no arguments (the whole suite, as .ci/run runs it), four more builds:
# the libFuzzer targets of tests/fuzz, built with clang (ASan+UBSan+libFuzzer)
# in build-fuzz, each run for MEMKV_FUZZ_SECONDS (20) on its seed corpus;
# a ThreadSanitizer build (build-tsan) for the concurrency tests; a Release
# build (build-release) for the memory tests; and the
# linux/arm64 cross-build tested under qemu (scripts/test-arm64.sh).
if [ $# -eq 0 ]; then
  command -v clang >/dev/null || { echo "test.sh: clang not found (scripts/deps.sh installs it)" >&2; exit 1; }
  secs=${MEMKV_FUZZ_SECONDS:-20}
  cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DMEMKV_FUZZ=ON \
    -DMEMKV_FUZZ_SECONDS="$secs" >/dev/null
  cmake --build build-fuzz -j"$(nproc)" --target fuzz_targets
  (cd build-fuzz && ctest -L fuzz -V -j"$(nproc)")

  # ThreadSanitizer: the mailbox and join unit tests and the concurrency-heavy
  # integration scripts with 2+2 and hosted threads (label tsan, build-tsan).
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMEMKV_TSAN=ON -DMEMKV_WERROR=ON >/dev/null
  cmake --build build-tsan -j"$(nproc)" --target mem-kv-server test_mbox test_join
  (cd build-tsan && ctest -L tsan --output-on-failure)

  # Release (jemalloc, no ASan): the memory tests whose RSS bounds only hold
  # for the allocator users run (test_memory checks RSS under eviction only
  # without ASan; docs/memory.md).
  cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DMEMKV_WERROR=ON >/dev/null
  cmake --build build-release -j"$(nproc)" --target mem-kv-server
  (cd build-release && ctest -R '^integ_memory' --output-on-failure)

  # linux/arm64: the Release cross-build, its unit tests and a smoke run of
  # the server under qemu-user (about 2 minutes; docs/arm64.md). The Debug
  # (ASan+UBSan) arm64 build takes 3 more: scripts/test-arm64.sh Debug.
  scripts/test-arm64.sh Release
fi
