#!/usr/bin/env bash
# deploy/systemd/sockleak.service passes `systemd-analyze verify` (ExecStart pointed at
# the built binary, since verify checks that the command exists).
set -euo pipefail
unit_src=$1 binary=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|/usr/local/bin/sockleak|$binary|" "$unit_src" > "$dir/sockleak.service"
out=$(systemd-analyze verify "$dir/sockleak.service" 2>&1) || { echo "$out"; exit 1; }
# verify exits 0 on some warnings: treat any output about our unit as a failure.
if grep -q "sockleak.service" <<<"$out"; then echo "$out"; exit 1; fi
echo "systemd-analyze verify: ok"
