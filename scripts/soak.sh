#!/usr/bin/env bash
# Soak (on demand, not CI): connection churn plus a slow leak for --minutes (default 10)
# with sockleak running. Samples sockleak's RSS every 10 s and, at the end, compares its
# last report for the leaking process with `ss`. Prints RSS first/last/max, drift, events
# and losses, and whether the final counts match.
#   scripts/soak.sh [--minutes N]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
minutes=10
[[ ${1:-} == --minutes ]] && minutes=$2
[[ $(id -u) -eq 0 ]] || { echo "soak: needs root" >&2; exit 77; }
"$root/scripts/deps.sh"
"$root/scripts/build.sh" >/dev/null 2>&1 || "$root/scripts/build.sh"
build=${SOCKLEAK_BUILD_DIR:-$root/build}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  pkill -P $$ 2>/dev/null || true  # pipeline members (the idle `sleep` feeding the leaker) too
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
seconds=$((minutes * 60))

"$build/tests/helpers/sl_http_server" --idle-close-ms 1000 --max-seconds $((seconds + 60)) >"$work/server" &
pids+=($!)
for _ in $(seq 50); do [[ -s $work/server ]] && break; sleep 0.1; done
port=$(awk '{print $2}' "$work/server")

"$build/sockleak" run --interval 5s --close-wait 2s >"$work/records" 2>"$work/stderr" &
sockleak=$!
pids+=($sockleak)
sleep 1
# One leaked connection every 2 s, kept until the end.
sleep $((seconds + 60)) | "$build/tests/helpers/sl_http_client" --port "$port" --mode leak \
  --count $((seconds / 2)) --interval-ms 2000 --max-seconds $((seconds + 60)) >/dev/null &
pids+=($!)
leaker=$(pgrep -n -f sl_http_client)
# Churn in bursts of 20 s with 10 s pauses.
( end=$((SECONDS + seconds)); while ((SECONDS < end)); do "$build/tests/bench/sl_bench_churn" --seconds 20 >>"$work/churn"; sleep 10; done ) &
pids+=($!)

echo "soak: ${minutes} min, sockleak pid $sockleak, leaker pid $leaker" >&2
: >"$work/rss"
end=$((SECONDS + seconds))
while ((SECONDS < end)); do
  awk '/VmRSS/ {print $2}' "/proc/$sockleak/status" >>"$work/rss"
  sleep 10
done
sleep 6  # one more report
kill -TERM "$sockleak"; wait "$sockleak" || true

last_linger=$(grep '"type":"linger"' "$work/records" | grep "\"pid\":$leaker," | grep CLOSE_WAIT | tail -1)
reported=$(sed -E 's/.*"count":([0-9]+),"oldest.*/\1/' <<<"$last_linger")
kernel=$(ss -tanpH state close-wait | grep -c "pid=$leaker," || true)
final=$(grep '"final":true' "$work/records" | tail -1)
first_rss=$(head -1 "$work/rss"); last_rss=$(tail -1 "$work/rss")
max_rss=$(sort -n "$work/rss" | tail -1)
printf '\n%-40s %s\n' "soak minutes" "$minutes"
printf '%-40s %s\n' "churn bursts (conn/s each)" "$(awk '{printf "%s ", $2}' "$work/churn")"
printf '%-40s %s KiB / %s KiB / %s KiB\n' "sockleak RSS first / last / max" "$first_rss" "$last_rss" "$max_rss"
printf '%-40s %s KiB\n' "RSS drift (last - first)" "$((last_rss - first_rss))"
printf '%-40s %s\n' "events received / lost" "$(sed -E 's/.*"received":([0-9]+),"lost":([0-9]+).*/\1 \/ \2/' <<<"$final")"
printf '%-40s %s\n' "map entries removed as stale (expect 0)" "$(sed -E 's/.*"stale_removed":([0-9]+).*/\1/' <<<"$final")"
printf '%-40s %s\n' "reconcile runs / corrections" "$(sed -E 's/.*"runs":([0-9]+),"corrections":([0-9]+).*/\1 \/ \2/' <<<"$final")"
printf '%-40s %s\n' "leaker CLOSE_WAIT reported / in ss" "$reported / $kernel"
