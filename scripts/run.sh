#!/usr/bin/env bash
# Quick start, command 1: install missing Debian packages, build, run sockleak.
#   scripts/run.sh                       -> sockleak run (NDJSON on stdout)
#   scripts/run.sh run --close-wait 5s   -> any sockleak arguments
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SOCKLEAK_BUILD_DIR:-$root/build}
# Only what sockleak itself needs: no test packages, no test targets (an existing build
# directory keeps its configuration, tests included if scripts/test.sh made it).
"$root/scripts/deps.sh" --runtime
[[ -f $build/CMakeCache.txt ]] || cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSOCKLEAK_TESTS=OFF >/dev/null
cmake --build "$build" --target sockleak -j"$(nproc)" >&2
(($#)) || set -- run
exec "$build/sockleak" "$@"
