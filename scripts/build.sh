#!/usr/bin/env bash
# Configures and builds sockleak into ${SOCKLEAK_BUILD_DIR:-build} (Release).
# Used by run.sh and test.sh; pass extra CMake -D options as arguments.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SOCKLEAK_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSOCKLEAK_TESTS=ON "$@" >/dev/null
cmake --build "$build" -j"$(nproc)" >&2
