#!/usr/bin/env bash
# Quick start, command 2: install missing packages, build, run the whole ctest suite
# (unit, BPF, root integration, deploy checks). Ends with ctest's summary line; the exit
# code is ctest's.
#   scripts/test.sh              Release build in build/
#   scripts/test.sh --sanitize   ASan+UBSan build in build-sanitize/, same suite
#   further arguments go to ctest (e.g. -R unit)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_args=()
if [[ ${1:-} == --sanitize ]]; then
  shift
  export SOCKLEAK_BUILD_DIR=${SOCKLEAK_BUILD_DIR:-$root/build-sanitize}
  build_args+=(-DSOCKLEAK_SANITIZE=ON)
  # Leak checks at exit stay on; halt on the first UBSan report.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fi
"$root/scripts/deps.sh"
"$root/scripts/build.sh" "${build_args[@]}"
cd "${SOCKLEAK_BUILD_DIR:-$root/build}"
exec ctest --output-on-failure "$@"
