#!/usr/bin/env bash
# Quick start, command 1: install missing Debian packages, build, run sockleak.
#   scripts/run.sh                       -> sockleak run (NDJSON on stdout)
#   scripts/run.sh run --close-wait 5s   -> any sockleak arguments
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh"
"$root/scripts/build.sh" >&2
(($#)) || set -- run
exec "${SOCKLEAK_BUILD_DIR:-$root/build}/sockleak" "$@"
