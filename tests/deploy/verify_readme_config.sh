#!/usr/bin/env bash
# The README's configuration example is the shipped deploy/systemd/sockleak.json, byte for
# byte, and sockleak accepts that file (as root: snapshot exits 0 or 1, never 2).
#   verify_readme_config.sh README.md deploy/systemd/sockleak.json SOCKLEAK_BIN
set -euo pipefail
readme=$1 shipped=$2 sockleak=$3
block=$(awk '/The shipped example, `deploy\/systemd\/sockleak.json`/ {found = 1}
             found && /^```json$/ {inside = 1; next}
             inside && /^```$/ {exit}
             inside {print}' "$readme")
if [[ -z $block ]]; then
  echo "README: no configuration example block found" >&2
  exit 1
fi
if ! diff -u "$shipped" <(printf '%s\n' "$block"); then
  echo "README: the configuration example differs from $shipped" >&2
  exit 1
fi
[[ $(id -u) -eq 0 ]] || exit 77
rc=0
"$sockleak" snapshot --config "$shipped" --close-wait 1h >/dev/null || rc=$?
if ((rc != 0 && rc != 1)); then
  echo "sockleak snapshot --config $shipped exited $rc" >&2
  exit 1
fi
