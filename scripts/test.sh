#!/usr/bin/env bash
# Quick start, command 2: install missing packages, build, run the whole ctest suite
# (unit, BPF, root integration). Ends with ctest's summary line; exit code is ctest's.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh"
"$root/scripts/build.sh"
cd "${SOCKLEAK_BUILD_DIR:-$root/build}"
exec ctest --output-on-failure "$@"
