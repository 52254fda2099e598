#!/usr/bin/env bash
# Runs every libFuzzer target for a while (default 60 s each), seeded from
# tests/fuzz/corpus/<target>; inputs it discovers stay in build-fuzz/corpus/<target>. A crash stops the run with
# the reproducer path; add it as a regression unit test after fixing.
#   scripts/fuzz.sh [seconds-per-target] [target...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(event_decoder duration config cli go_pclntab symbolize_request elf_names)
"$root/scripts/deps.sh"
build=${SOCKLEAK_FUZZ_BUILD_DIR:-$root/build-fuzz}
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOCKLEAK_FUZZ=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >&2
mkdir -p "$build/crashes"
for t in "${targets[@]}"; do
  echo "fuzz: $t for ${seconds}s" >&2
  mkdir -p "$build/corpus/$t"
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$build/crashes/$t-" "$build/corpus/$t" "$root/tests/fuzz/corpus/$t" 2>&1 | grep -E "^(stat::number_of_executed_units|stat::new_units_added|==|SUMMARY)" || true
  if compgen -G "$build/crashes/$t-*" >/dev/null; then
    echo "fuzz: $t found a crash: $(ls "$build/crashes/$t-"*)" >&2
    exit 1
  fi
done
echo "fuzz: no crashes" >&2
