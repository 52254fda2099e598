#!/usr/bin/env bash
# The kernel-dependent test items of sockleak, run on whatever kernel this machine runs:
# inside a test VM (scripts/vmtest.sh boots one per kernel) or directly on the host.
#
#   scripts/vm/guest-tests.sh BUILD_DIR [OUT_DIR]
#
# Prints `KERNEL <uname -r>`, proves that no kernel config file is visible (sockleak must
# work without /boot/config-* and /proc/config.gz), then one line per item:
#   RESULT <name> PASS|FAIL|SKIP <seconds>
# Each item's full output goes to OUT_DIR/<name>.log and the RESULT lines also to
# OUT_DIR/results (OUT_DIR defaults to a new directory under /tmp). Exit status: 0 when
# nothing failed, 1 when an item failed, 2 on usage errors or missing binaries, 3 when a
# kernel config file is visible.
#
# Environment: SOCKLEAK_ITEM_TIMEOUT (seconds per item, default 300),
#              SOCKLEAK_TEST_TAGS (space-separated integration tags, default the list below).
set -euo pipefail

# The integration scenarios run on every kernel: Catch2 tags of
# build/tests/integration/integration_tests. Edit here to add or drop one.
TEST_TAGS="close_wait_client well_behaved_client server_accept_leak shared_fork ipv6 preexisting idle_established snapshot tracked_closes reread_shared never_accepted pid_namespace exec_fork_child exec_go_call_site"

readonly SKIP_CODE=77 # ctest's SKIP_RETURN_CODE for the root tiers
item_timeout=${SOCKLEAK_ITEM_TIMEOUT:-300}
tags=${SOCKLEAK_TEST_TAGS:-$TEST_TAGS}
failed=0

usage() {
  echo "usage: $0 BUILD_DIR [OUT_DIR]" >&2
  exit 2
}

# Fails loudly when the kernel's config could be read: libbpf looks for exactly these two
# files, and on a machine that lacks them __kconfig externs must still resolve.
check_no_kernel_config() {
  local visible=() f proc_state=absent
  for f in /boot/config-*; do
    if [[ -e $f ]]; then visible+=("$f"); fi
  done
  if [[ -e /proc/config.gz ]]; then
    # The host run masks it with /dev/null: present but empty is not readable config.
    if (($(head -c 1 /proc/config.gz 2>/dev/null | wc -c) > 0)); then
      visible+=(/proc/config.gz)
    else
      proc_state="masked (empty)"
    fi
  fi
  if ((${#visible[@]})); then
    echo "FATAL: kernel config visible: ${visible[*]}"
    exit 3
  fi
  echo "no kernel config visible: /boot/config-* none, /proc/config.gz ${proc_state}"
}

# The lines of an item's log that say why it failed, at most 12: libbpf and sockleak
# errors, the verifier's verdict (the line before "processed N insns"), Catch2's failed
# assertions and exception messages; lines differing only in numbers are shown once.
# The last lines of the log when none of these is there.
error_excerpt() {
  local log=$1 excerpt
  excerpt=$(awk -v max=12 '
    function emit(line,   key) {
      key = line
      gsub(/[0-9]+/, "#", key)
      if (key in seen) return
      seen[key] = 1
      if (n < max) { print line; n++ } else more++
    }
    /^processed [0-9]+ insns/ { emit(prev) }
    want_msg { sub(/^ +/, ""); emit($0); want_msg = 0 }
    /with message:$|with expansion:$/ { want_msg = 1 }
    /PROG LOAD LOG/ { prev = $0; next }
    /libbpf: .*([Ff]ailed|[Ee]rror|not supported|invalid)|^sockleak: |FAILED:|^  (REQUIRE|CHECK)|timed out|^test cases:/ { emit($0) }
    { prev = $0 }
    END { if (more) print "... " more " more error lines" }' "$log")
  if [[ -z $excerpt ]]; then excerpt=$(tail -n 10 "$log"); fi
  printf '%s\n' "$excerpt"
}

# Seconds since the epoch with microseconds, as an integer count of microseconds.
now_us() {
  local t=${EPOCHREALTIME/./}
  echo "$((10#$t))"
}

# run_item NAME COMMAND...: runs one item under its own timeout, logs its output, prints
# and records its RESULT line. Stdin is /dev/null so no item can wait on a terminal.
run_item() {
  local name=$1 log="$out_dir/$1.log" rc=0 start status secs
  shift
  start=$(now_us)
  {
    echo "# $*"
    echo "# kernel $(uname -r), timeout ${item_timeout}s"
  } >"$log"
  # In the background, so that a TERM/INT to this script (the host run's timeout, ^C) is
  # passed on: timeout puts the item in a process group of its own, which the signal to
  # ours would not reach, and the item (a root sockleak, helpers) would outlive the run.
  timeout --kill-after=10 "$item_timeout" "$@" >>"$log" 2>&1 </dev/null &
  item_pid=$!
  wait "$item_pid" || rc=$?
  item_pid=
  secs=$(awk -v us=$(($(now_us) - start)) 'BEGIN { printf "%.1f", us / 1e6 }')
  case $rc in
    0) status=PASS ;;
    "$SKIP_CODE") status=SKIP ;;
    *) status=FAIL ;;
  esac
  echo "RESULT $name $status $secs" | tee -a "$out_dir/results"
  if [[ $status == FAIL ]]; then
    failed=1
    local why="exit status $rc"
    if ((rc == 124 || rc == 137)); then why="timed out after ${item_timeout}s"; fi
    echo "# $why" >>"$log"
    echo "  $name: $why; from $log:"
    error_excerpt "$log" | sed 's/^/  | /'
  fi
}

item_pid=''
stop_item() {
  if [[ -n $item_pid ]]; then
    kill -TERM "$item_pid" 2>/dev/null || true
    wait "$item_pid" 2>/dev/null || true
  fi
  exit 143
}

main() {
  (($# >= 1 && $# <= 2)) || usage
  trap stop_item TERM INT
  build_dir=$(cd "$1" && pwd) || usage

  local bpf_bin="$build_dir/tests/bpf/bpf_tests"
  local int_bin="$build_dir/tests/integration/integration_tests"
  local bin
  for bin in "$bpf_bin" "$int_bin" "$build_dir/sockleak"; do
    if [[ ! -x $bin ]]; then
      echo "FATAL: $bin is missing: build first (scripts/build.sh)" >&2
      exit 2
    fi
  done

  echo "KERNEL $(uname -r)"
  check_no_kernel_config
  out_dir=${2:-$(mktemp -d /tmp/sockleak-guest-tests.XXXXXX)}
  mkdir -p "$out_dir"
  uname -r >"$out_dir/uname"
  : >"$out_dir/results"
  echo "output in $out_dir; item timeout ${item_timeout}s"

  # What this kernel offers and the path sockleak takes (kept in features.log), and
  # whether the whole object loads here.
  run_item features "$build_dir/sockleak" features -v
  run_item bpf "$bpf_bin"
  # Scans as on kernels whose policy refuses map-element iterators: by
  # bpf_for_each_map_elem() (5.13+; SKIP before, where sockleak refuses to run without both).
  run_item bpf_map_walk env SOCKLEAK_DISABLE_FEATURES=map_elem_iterator bash -c \
    '"$0" features >/dev/null 2>&1 || { echo "SKIP: no bpf_for_each_map_elem()"; exit 77; }; exec "$1"' \
    "$build_dir/sockleak" "$bpf_bin"
  local tag
  for tag in $tags; do
    run_item "$tag" "$int_bin" "[$tag]"
  done
  return "$failed"
}

main "$@"
