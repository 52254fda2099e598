#!/usr/bin/env bash
# On-demand benchmarks (not part of ctest): connection churn with sockleak on vs off, from a
# churn client and against real nginx driven by wrk
# (interleaved rounds, median ratio; also on the fallback paths of kernels before 5.12),
# syscall overhead of the hooks, aggregator replay,
# reconcile time at 10k and 100k sockets, and run/snapshot cost with 10k and 100k lingering.
# Prints one summary table.
#   scripts/bench.sh [--rounds N] [--nginx-rounds N] [--seconds S]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# nginx rounds swing more than the churn client's (a round here may run 1.3x another): their
# medians take more rounds to settle within the 2% the goals ask to resolve.
rounds=5 nginx_rounds=15 seconds=3
while (($#)); do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --nginx-rounds) nginx_rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) echo "usage: $0 [--rounds N] [--nginx-rounds N] [--seconds S]" >&2; exit 2 ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "bench: needs root" >&2; exit 77; }
"$root/scripts/deps.sh"
"$root/scripts/build.sh" >/dev/null 2>&1 || "$root/scripts/build.sh"
build=${SOCKLEAK_BUILD_DIR:-$root/build}
bench=$build/tests/bench
sockleak=$build/sockleak
work=$(mktemp -d)
monitor_pid= fixture_pids=()
cleanup() {
  [[ -n ${bpf_stats_before:-} ]] && sysctl -q -w kernel.bpf_stats_enabled="$bpf_stats_before"
  [[ -n $monitor_pid ]] && kill "$monitor_pid" 2>/dev/null && wait "$monitor_pid" 2>/dev/null
  ((${#fixture_pids[@]})) && kill "${fixture_pids[@]}" 2>/dev/null && wait "${fixture_pids[@]}" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# Starts `sockleak run ARGS` in the background and waits until it has attached.
start_monitor() {
  "$sockleak" run "$@" >"$work/monitor.out" 2>"$work/monitor.err" &
  monitor_pid=$!
  for _ in $(seq 100); do
    [[ -s $work/monitor.out ]] && return 0
    sleep 0.05
  done
  echo "bench: sockleak did not start: $(cat "$work/monitor.err")" >&2
  exit 1
}
stop_monitor() {
  kill "$monitor_pid"
  wait "$monitor_pid" || true
  monitor_pid=
}
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
churn() { "$bench/sl_bench_churn" --seconds "$seconds" | awk '{print $2}'; }
# The same churn as a command run by `sockleak exec` (call sites on, as its default): the
# cost falls on the watched command itself.
churn_exec() { "$sockleak" exec -- "$bench/sl_bench_churn" --seconds "$seconds" 2>/dev/null | awk '{print $2}'; }
# $rounds rounds of WORKLOAD under `monitored` in every CONFIG, their order rotating from
# round to round; one line per round in FILE with the results in the order the configs are given.
interleaved() {
  local workload=$1 file=$2 i k c line progress
  shift 2
  local configs=("$@")
  for ((i = 0; i < rounds; i++)); do
    local -A got=()
    for ((k = 0; k < ${#configs[@]}; k++)); do
      c=${configs[$(((i + k) % ${#configs[@]}))]}
      got[$c]=$(monitored "$workload" "$c")
    done
    line='' progress=''
    for c in "${configs[@]}"; do
      line+="${got[$c]} "
      progress+=", $c ${got[$c]}/s"
    done
    echo "${line% }" >>"$file"
    echo "  round $((i + 1)):${progress#,}" >&2
  done
}
# Median over the rounds in FILE of column N, and of column N over column 1 (monitor off).
column_median() { awk -v n="$1" '{print $n}' "$2" | median; }
ratio_median() { awk -v n="$1" '{printf "%.3f\n", $n / $1}' "$2" | median; }

# A standing leak for every round: 100 CLOSE_WAIT sockets held by one process. They
# linger only where --close-wait is 1s; one holder needs no close() hook.
helpers=$build/tests/helpers
"$helpers/sl_http_server" --idle-close-ms 1 --max-seconds 3600 >"$work/server.out" &
fixture_pids+=($!)
for _ in $(seq 100); do grep -q PORT "$work/server.out" 2>/dev/null && break; sleep 0.05; done
leak_port=$(awk '/PORT/ {print $2}' "$work/server.out")
mkfifo "$work/leak_in"  # the leaker runs until its stdin closes
"$helpers/sl_socket_scenarios" --port "$leak_port" --count 100 --max-seconds 3600 <"$work/leak_in" >"$work/leak.out" &
fixture_pids+=($!)
exec 8>"$work/leak_in"
for _ in $(seq 100); do grep -q READY "$work/leak.out" 2>/dev/null && break; sleep 0.05; done

quiet=(--interval 1s --close-wait 1h)     # the leak does not linger yet
leaking=(--interval 1s --close-wait 1s)   # 100 sockets linger, one holder: no close() hook
# Waits until the monitor reports lingering sockets; with `hooked` until its stats say
# that its close() hook is attached, with `reread` until it has re-read the sharers' fds.
await_lingering() {
  local want='"type":"linger"'
  [[ ${1:-} == hooked ]] && want='"close_tracking":true'
  [[ ${1:-} == reread ]] && want='"holder_rereads":[1-9]'
  for _ in $(seq 100); do
    grep -q "$want" "$work/monitor.out" && return 0
    sleep 0.05
  done
  echo "bench: no $want from the monitor" >&2
  exit 1
}
# 20 more CLOSE_WAIT sockets, shared by a process and its forked child: a close() by one
# of them changes the report, so the close() hook is attached while they linger.
start_shared_leak() {
  rm -f "$work/shared_in" && mkfifo "$work/shared_in"  # it runs until its stdin closes
  "$helpers/sl_socket_scenarios" --port "$leak_port" --scenario fork --count 20 --max-seconds 600 \
    <"$work/shared_in" >"$work/shared.out" &
  shared_pid=$!
  exec 7>"$work/shared_in"
  for _ in $(seq 100); do grep -q READY "$work/shared.out" 2>/dev/null && break; sleep 0.05; done
}
stop_shared_leak() {
  exec 7>&-
  wait "$shared_pid" || true
}

# The floor of any state hook: an empty program attached to sockleak's tracepoint (what the
# kernel spends to run a program there at all), held until fd 6 closes. Started only inside
# a round's subshell: if the bench stops, the subshell's end closes fd 6 and so ends it.
start_empty_hook() {
  rm -f "$work/empty_in" && mkfifo "$work/empty_in"
  "$bench/sl_bench_empty_hook" <"$work/empty_in" >"$work/empty.out" &
  empty_pid=$!
  exec 6>"$work/empty_in"
  for _ in $(seq 100); do grep -q ATTACHED "$work/empty.out" 2>/dev/null && return 0; sleep 0.05; done
  echo "bench: the empty hook did not attach" >&2
  exit 1
}
stop_empty_hook() {
  exec 6>&-
  wait "$empty_pid" || true
}

# One run of WORKLOAD (a command printing one rate) with the monitor off or in one
# configuration: on, leak (100 sockets lingering, one holder), shared (20 more shared by a
# fork: their fd tables re-read before each report), hooked (the same with the close() hook
# instead: --shared-holders hook), stacks (--call-sites 1), sites (--call-sites 16), fallbacks
# (the paths of kernels before 5.12); exec: WORKLOAD's command under `sockleak exec`
# (WORKLOAD_exec); floor: no monitor, the empty program on its tracepoint.
monitored() {
  local workload=$1
  case $2 in
    off) "$workload" ;;
    on) start_monitor "${quiet[@]}"; "$workload"; stop_monitor ;;
    leak)
      start_monitor "${leaking[@]}"; await_lingering
      "$workload"; stop_monitor ;;
    shared)
      start_shared_leak; start_monitor "${leaking[@]}"; await_lingering reread
      "$workload"; stop_monitor; stop_shared_leak ;;
    hooked)
      start_shared_leak; start_monitor "${leaking[@]}" --shared-holders hook; await_lingering hooked
      "$workload"; stop_monitor; stop_shared_leak ;;
    stacks) start_monitor "${quiet[@]}" --call-sites 1; "$workload"; stop_monitor ;;
    sites) start_monitor "${quiet[@]}" --call-sites 16; "$workload"; stop_monitor ;;
    fallbacks) SOCKLEAK_DISABLE_FEATURES=$fallbacks start_monitor "${quiet[@]}"; "$workload"; stop_monitor ;;
    exec) "${workload}_exec" ;;
    floor) start_empty_hook; "$workload"; stop_empty_hook ;;
  esac
}
# What a 5.10/5.11 kernel lacks: sockleak names sockets by address and finds them in files
# by probe reads there.
fallbacks=socket_cookie,sock_from_file,bpf_loop
echo "bench: connection churn, $rounds rounds of ${seconds}s: off / on / lingering / lingering shared / on --call-sites 1 / on with 5.10 fallbacks / under sockleak exec (order rotates)" >&2
interleaved churn "$work/churn" off on leak shared stacks fallbacks exec
churn_off=$(column_median 1 "$work/churn")
churn_on=$(column_median 2 "$work/churn")
churn_leak=$(column_median 3 "$work/churn")
churn_ratio=$(ratio_median 2 "$work/churn")
churn_ratio_leak=$(ratio_median 3 "$work/churn")
churn_ratio_shared=$(ratio_median 4 "$work/churn")
churn_ratio_stacks=$(ratio_median 5 "$work/churn")
churn_ratio_fallbacks=$(ratio_median 6 "$work/churn")
churn_ratio_exec=$(ratio_median 7 "$work/churn")

echo "bench: syscall cost" >&2
"$bench/sl_bench_syscall" >"$work/sys_off"
start_monitor "${quiet[@]}"; "$bench/sl_bench_syscall" >"$work/sys_on"; stop_monitor
start_monitor "${leaking[@]}"; await_lingering; "$bench/sl_bench_syscall" >"$work/sys_leak"; stop_monitor
start_shared_leak; start_monitor "${leaking[@]}" --shared-holders hook; await_lingering hooked
"$bench/sl_bench_syscall" >"$work/sys_hooked"; stop_monitor; stop_shared_leak
# Call sites take no syscall hook (connect: the state hook; accepted sockets: their first read).
start_monitor "${quiet[@]}" --call-sites 16; "$bench/sl_bench_syscall" >"$work/sys_sites"; stop_monitor
sys() { awk -v k="$1" '$1 == k {print $2}' "$2"; }

# A real server under connection churn: nginx (keepalive_timeout 0: a connection per request,
# epoll, accept4, reads and writes, each paying for the syscall hook) driven by wrk, with the
# monitor off, on, on with sockets lingering (one holder; and shared: close() hook attached)
# and on --call-sites 16.
for pkg in nginx-light wrk; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" && continue
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "$pkg" >&2 ||
    { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends "$pkg" >&2; }
done
nginx_port=$((20000 + RANDOM % 20000))
while ss -tlnH "sport = :$nginx_port" | grep -q .; do nginx_port=$((nginx_port + 1)); done
mkdir -p "$work/nginx/logs"
cat >"$work/nginx/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_timeout 0;
  server {
    listen 127.0.0.1:$nginx_port;
    location / { return 200 "ok\n"; }
  }
}
NGINX
/usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" &
fixture_pids+=($!)
for _ in $(seq 100); do ss -tlnH "sport = :$nginx_port" | grep -q . && break; sleep 0.05; done
wrk_rps() {
  wrk -t1 -c16 -d"${seconds}s" "http://127.0.0.1:$nginx_port/" | awk '/Requests\/sec/ {print $2}'
}
echo "bench: nginx + wrk (-t1 -c16, keepalive_timeout 0), $nginx_rounds rounds of ${seconds}s: off / on / lingering / lingering shared (re-read) / --call-sites 16 / lingering shared (close hook) / an empty hook (order rotates)" >&2
rounds=$nginx_rounds interleaved wrk_rps "$work/nginx_rounds" off on leak shared sites hooked floor
nginx_off=$(column_median 1 "$work/nginx_rounds")
nginx_ratio=$(ratio_median 2 "$work/nginx_rounds")
nginx_ratio_leak=$(ratio_median 3 "$work/nginx_rounds")
nginx_ratio_shared=$(ratio_median 4 "$work/nginx_rounds")
nginx_ratio_hooked=$(ratio_median 6 "$work/nginx_rounds")
nginx_ratio_sites=$(ratio_median 5 "$work/nginx_rounds")
nginx_ratio_floor=$(ratio_median 7 "$work/nginx_rounds")
# What the monitor costs per request, free of the rounds' swings (on this machine a round's
# rate swings by up to 1.7x, and so does its CPU per request): over one wrk run with the
# monitor on in a configuration, the kernel's count of its hooks' runs and their time
# (kernel.bpf_stats_enabled, on for this run only; the walks it runs itself are its own
# CPU), the monitor's own CPU, and the whole machine's busy CPU. Their share of the busy
# CPU is what the monitor takes from the server: 1 - share estimates the ratio.
# Prints "STATE_HOOK_NS_A_RUN STATE_RUNS_A_REQUEST HOOKS_NS_A_REQUEST MONITOR_NS_A_REQUEST
# BUSY_NS_A_REQUEST".
# CPU times count in 10 ms ticks: 0.2 us a request in a 3 s run, so these runs last 10 s.
cost_seconds=$((seconds > 10 ? seconds : 10))
bpf_stats_before=$(sysctl -n kernel.bpf_stats_enabled)
request_cost() {
  local requests cpu_before cpu_after busy_before busy_after
  start_monitor "$@"
  sysctl -q -w kernel.bpf_stats_enabled=1
  cpu_before=$(awk '{print $14 + $15}' "/proc/$monitor_pid/stat")
  busy_before=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat)
  requests=$(wrk -t1 -c16 -d"${cost_seconds}s" "http://127.0.0.1:$nginx_port/" | awk '/requests in/ {print $1}')
  busy_after=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat)
  cpu_after=$(awk '{print $14 + $15}' "/proc/$monitor_pid/stat")
  # The hooks: tracing programs named on_* (one monitor runs: they are all its own).
  bpftool prog show | awk -v r="$requests" -v hz="$(getconf CLK_TCK)" -v cpu=$((cpu_after - cpu_before)) \
      -v busy=$((busy_after - busy_before)) '
    / name on_/ {
      name = ""; t = 0; c = 0
      for (i = 1; i <= NF; i++) {
        if ($i == "name") name = $(i + 1)
        if ($i == "run_time_ns") t = $(i + 1)
        if ($i == "run_cnt") c = $(i + 1)
      }
      hooks += t
      if (name == "on_state_change") { state_t = t; state_c = c }
    }
    END {
      printf "%.0f %.1f %.0f %.0f %.0f\n", state_c ? state_t / state_c : 0, state_c / r, hooks / r,
        cpu * 1e9 / hz / r, busy * 1e9 / hz / r
    }'
  sysctl -q -w kernel.bpf_stats_enabled="$bpf_stats_before"
  stop_monitor
}
read -r nginx_state_ns nginx_state_runs nginx_hooks_ns nginx_monitor_ns nginx_busy_ns < <(request_cost "${quiet[@]}")
read -r _ _ sites_hooks_ns sites_monitor_ns sites_busy_ns < <(request_cost "${quiet[@]}" --call-sites 16)
nginx_hook=$(awk -v t="$nginx_state_ns" -v r="$nginx_state_runs" 'BEGIN {printf "%d ns a run, %.1f runs, %.2f us a request", t, r, t * r / 1000}')
# Per request: hooks + monitor CPU against the machine's busy CPU, and 1 - their share.
cost_line() {
  awk -v h="$1" -v m="$2" -v b="$3" 'BEGIN {printf "%.2f + %.2f us of %.0f us busy: 1 - share %.3f", h / 1000, m / 1000, b / 1000, 1 - (h + m) / b}'
}
nginx_cost=$(cost_line "$nginx_hooks_ns" "$nginx_monitor_ns" "$nginx_busy_ns")
sites_cost=$(cost_line "$sites_hooks_ns" "$sites_monitor_ns" "$sites_busy_ns")
kill "${fixture_pids[@]}" 2>/dev/null; wait "${fixture_pids[@]}" 2>/dev/null || true
fixture_pids=()

echo "bench: aggregator replay (1M sockets)" >&2
"$bench/sl_bench_aggregator" 1000000 >"$work/agg"
agg() { awk -v k="$1" '$1 == k {print $2}' "$work/agg"; }

# Starts the fixture holding N ESTABLISHED sockets (more args: its options) and waits until
# it holds them all; it runs until fd 9 closes. Sets hold.
start_holding() {
  rm -f "$work/hold_in" && mkfifo "$work/hold_in"
  "$bench/sl_bench_hold_sockets" --count "$@" <"$work/hold_in" >"$work/hold_out" &
  hold=$!
  exec 9>"$work/hold_in"
  for _ in $(seq 600); do grep -q READY "$work/hold_out" 2>/dev/null && break; sleep 0.1; done
}
stop_holding() {
  exec 9>&-
  wait "$hold" 2>/dev/null || true
}
# Holds N ESTABLISHED sockets, then times one full reconcile (snapshot -v reports it).
reconcile_ms() {
  local n=$1 hold ms
  start_holding "$n"
  ms=$(SOCKLEAK_DISABLE_FEATURES=${2:-} "$sockleak" snapshot -v --close-wait 1h --established-idle 1h 2>&1 >/dev/null |
       awk '/reconcile:/ && match($0, / in [0-9.]+ ms/) {print substr($0, RSTART + 4, RLENGTH - 7); exit}')
  stop_holding
  echo "$ms"
}
echo "bench: reconcile at 10k and 100k sockets" >&2
rec10k=$(reconcile_ms 10000)
rec100k=$(reconcile_ms 100000)
rec100k_fallbacks=$(reconcile_ms 100000 "$fallbacks")

# N sockets held and all lingering (idle ESTABLISHED past a 10 s threshold, as an operator
# would run it: default reconcile interval). `run` is measured over 30 reports from the
# first one that reports all N, and over the 30 after those (a steady state that stays
# flat: each window holds one full reconcile, every 30 s; full scans, every 2 min, are
# timed on their own, after the windows, asked for by a SIGHUP): CPU per report
# (user+sys), peak RSS, the time from start until all N were reported, the last full
# reconcile, full scan and new-sockets reconcile of the run; then `snapshot`'s wall time and peak RSS (medians of 5).
# Prints "CPU_MS_PER_REPORT/NEXT_30 RSS_MB SNAPSHOT_MS SNAPSHOT_MB FULL_RECONCILE_MS
# NEW_RECONCILE_MS FULL_SCAN_MS ALL_REPORTED_S".
# Starts `run -v` with a 10 s idle threshold (more args: its options; log in
# $work/scale_log) and waits until a scan has reported N lingering sockets. Sets run and all
# (seconds from start until then).
start_run_until_reported() {
  local n=$1 t0
  shift
  all=?
  t0=$(date +%s.%N)
  "$sockleak" run -v --established-idle 10s --interval 1s "$@" >/dev/null 2>"$work/scale_log" &
  run=$!
  for _ in $(seq 600); do
    if awk -v n="$n" '/ scan: / && $6 >= n {found = 1} END {exit !found}' "$work/scale_log"; then
      all=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
      break
    fi
    sleep 0.1
  done
}
# CPU ms (user+sys) per report of the run over the next 30 s.
cpu_per_report() {
  local u1 u2
  u1=$(awk '{print $14 + $15}' "/proc/$run/stat")
  sleep 30
  u2=$(awk '{print $14 + $15}' "/proc/$run/stat")
  echo $(((u2 - u1) * 1000 / $(getconf CLK_TCK) / 30))
}
scale_numbers() {
  local n=$1 hold run cpu hwm snap full new scan all
  start_holding "$n"
  start_run_until_reported "$n" --duration 150s
  # Two windows one after the other: the cost stays flat as the run goes on.
  cpu="$(cpu_per_report)/$(cpu_per_report)"
  hwm=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$run/status")
  # A full scan runs every 2 min, outside this window: SIGHUP (a reload) asks for one now.
  kill -HUP "$run" && sleep 3
  kill -TERM "$run" && wait "$run" || true
  # -v lines end "in X ms (cpu: ...)": the wall time X.
  local wall='match($0, / in [0-9.]+ ms/) {ms = substr($0, RSTART + 4, RLENGTH - 7)}'
  full=$(awk "/full reconcile:/ && $wall END {print ms}" "$work/scale_log")
  new=$(awk "/new-sockets reconcile:/ && $wall END {print ms}" "$work/scale_log")
  scan=$(awk "/full scan:/ && \$4 > 0 && $wall END {print ms}" "$work/scale_log")
  # snapshot exits 1: the sockets linger. Medians of 5 runs (one run swings by a third here).
  local i
  for i in 1 2 3 4 5; do
    { /usr/bin/time -f "%e %M" "$sockleak" snapshot --established-idle 1s >/dev/null || true; } 2>&1 | tail -1
  done >"$work/snaps"
  snap="$(awk '{print $1}' "$work/snaps" | median) $(awk '{print $2}' "$work/snaps" | median)"
  stop_holding
  echo "$cpu $hwm $(echo "$snap" | awk '{print int($1 * 1000), int($2 / 1024)}') ${full:-?} ${new:-none} ${scan:-?} $all"
}
# The same 100k, with 4 connections a second opened and each closed 12 s later: 8 sockets
# a second start and 8 stop lingering. Prints "CPU_MS_PER_REPORT NEW_SOCKETS_RECONCILES".
turnover_numbers() {
  local hold run cpu all
  start_holding 100000 --turnover 4
  start_run_until_reported 100000 --duration 120s
  cpu=$(cpu_per_report)
  kill -TERM "$run" && wait "$run" || true
  stop_holding
  echo "$cpu $(grep -cE '(new|[0-9]+)-sockets reconcile:' "$work/scale_log")"
}
echo "bench: 10k and 100k lingering sockets" >&2
read -r scale10k_cpu scale10k_rss scale10k_snap scale10k_snap_rss scale10k_full scale10k_new scale10k_scan scale10k_all \
  < <(scale_numbers 10000)
read -r scale100k_cpu scale100k_rss scale100k_snap scale100k_snap_rss scale100k_full scale100k_new scale100k_scan scale100k_all \
  < <(scale_numbers 100000)
echo "bench: 100k lingering sockets, 8 a second starting and 8 stopping to linger" >&2
read -r turnover_cpu turnover_reconciles < <(turnover_numbers)

printf '\n%-52s %s\n' "benchmark" "result"
printf '%-52s %s\n' "----------------------------------------------------" "------------------------------"
printf '%-52s %s\n' "churn conn/s, monitor off (median)" "$churn_off"
printf '%-52s %s\n' "churn conn/s, monitor on (median)" "$churn_on"
printf '%-52s %s\n' "churn conn/s, on with 100 lingering sockets (median)" "$churn_leak"
printf '%-52s %s\n' "churn ratio on/off (median of $rounds rounds)" "$churn_ratio"
printf '%-52s %s\n' "churn ratio on/off, 100 sockets lingering, one holder" "$churn_ratio_leak"
printf '%-52s %s\n' "churn ratio on/off, + 20 shared by a fork (re-read)" "$churn_ratio_shared"
printf '%-52s %s\n' "churn ratio on --call-sites 1/off (stack per connect)" "$churn_ratio_stacks"
printf '%-52s %s\n' "churn ratio on/off, 5.10 fallbacks ($fallbacks)" "$churn_ratio_fallbacks"
printf '%-52s %s\n' "churn ratio under sockleak exec/off (call sites on)" "$churn_ratio_exec (goal >= 0.95)"
printf '%-52s %s\n' "nginx+wrk requests/s, monitor off (median)" "$nginx_off"
printf '%-52s %s\n' "nginx+wrk ratio on/off (goal >= 0.98)" "$nginx_ratio"
printf '%-52s %s\n' "nginx+wrk ratio on/off, sockets lingering (>= 0.98)" "$nginx_ratio_leak"
printf '%-52s %s\n' "nginx+wrk ratio on/off, + 20 shared (re-read)" "$nginx_ratio_shared"
printf '%-52s %s\n' "nginx+wrk ratio on/off, + 20 shared (close hook)" "$nginx_ratio_hooked"
printf '%-52s %s\n' "nginx+wrk ratio on --call-sites 16/off (>= 0.95)" "$nginx_ratio_sites"
printf '%-52s %s\n' "nginx+wrk ratio, an empty program on the hook/off" "$nginx_ratio_floor (the floor of any state hook)"
printf '%-52s %s\n' "nginx+wrk state hook, monitor on (bpf_stats)" "$nginx_hook"
printf '%-52s %s\n' "nginx+wrk per request, on: hooks + monitor CPU" "$nginx_cost"
printf '%-52s %s\n' "nginx+wrk per request, --call-sites 16: the same" "$sites_cost"
printf '%-52s %s\n' "getppid ns/call off -> on -> lingering -> shared (hook)" "$(sys getppid_ns "$work/sys_off") -> $(sys getppid_ns "$work/sys_on") -> $(sys getppid_ns "$work/sys_leak") -> $(sys getppid_ns "$work/sys_hooked")"
printf '%-52s %s\n' "getppid ns/call on --call-sites 16 (no syscall hook)" "$(sys getppid_ns "$work/sys_sites")"
printf '%-52s %s\n' "dup+close ns/call off -> on -> lingering -> shared (hook)" "$(sys dup_close_ns "$work/sys_off") -> $(sys dup_close_ns "$work/sys_on") -> $(sys dup_close_ns "$work/sys_leak") -> $(sys dup_close_ns "$work/sys_hooked")"
printf '%-52s %s\n' "aggregator events/s (one core)" "$(agg events_per_second)"
printf '%-52s %s\n' "aggregator bytes per tracked socket at 1M" "$(agg bytes_per_tracked_socket)"
printf '%-52s %s\n' "report at 100k lingering: first / after a change, ms" "$(agg report_first_ms_100k) / $(agg report_after_change_ms_100k)"
printf '%-52s %s\n' "reconcile (iter/task_file) at 10k sockets, ms" "$rec10k"
printf '%-52s %s\n' "reconcile (iter/task_file) at 100k sockets, ms" "$rec100k"
printf '%-52s %s\n' "reconcile at 100k sockets, 5.10 fallbacks, ms" "$rec100k_fallbacks"
printf '%-52s %s\n' "run: CPU ms per report, 10k -> 100k (30 s / next 30 s)" "$scale10k_cpu -> $scale100k_cpu (goal <= 10)"
printf '%-52s %s\n' "run: CPU ms per report, 100k + 8/s turning over" "$turnover_cpu (goal <= 10; $turnover_reconciles reconciles of new sockets)"
printf '%-52s %s\n' "run: full reconcile ms, 10k -> 100k (every 30 s)" "$scale10k_full -> $scale100k_full (goal <= 100)"
printf '%-52s %s\n' "run: new-sockets reconcile ms, 10k -> 100k" "$scale10k_new -> $scale100k_new (none: no new connection)"
printf '%-52s %s\n' "run: full scan ms, 10k -> 100k (every 2 min)" "$scale10k_scan -> $scale100k_scan"
printf '%-52s %s\n' "run: s from start to all reported, 10k -> 100k" "$scale10k_all -> $scale100k_all (10 s threshold)"
printf '%-52s %s\n' "run: peak RSS MB, 10k -> 100k lingering" "$scale10k_rss -> $scale100k_rss (goal <= 40)"
printf '%-52s %s\n' "snapshot: wall ms, 10k -> 100k sockets" "$scale10k_snap -> $scale100k_snap (goal <= 300)"
printf '%-52s %s\n' "snapshot: peak RSS MB, 10k -> 100k sockets" "$scale10k_snap_rss -> $scale100k_snap_rss (goal <= 30)"
