#!/usr/bin/env bash
# Kernel test matrix: runs scripts/vm/guest-tests.sh (the BPF tier and the integration
# scenarios that compare sockleak with ss) on Debian's 5.10, 6.1 and 6.12 kernels, each
# booted under qemu, and on the host's own kernel; then prints one row per kernel.
#
#   scripts/vmtest.sh [KERNEL...]     KERNEL: 5.10 6.1 6.12 host (default: all four)
#
# It builds nothing: build first (scripts/build.sh); it uses the binaries in the build dir.
# The VMs share the host's root file system read-only over virtio-9p and run the host-built
# binaries and Debian's tools unchanged; results come back through a second, writable 9p
# share. No kernel config file is visible to the tests anywhere (no /boot/config-*, no
# /proc/config.gz): sockleak must not need one.
#
# Environment:
#   SOCKLEAK_BUILD_DIR     build directory (default <repo>/build)
#   SOCKLEAK_VM_CACHE      kernel packages and apt state, reused (default /var/cache/sockleak-vmtest)
#   SOCKLEAK_VM_LOGS       where logs of this run are kept (default <build dir>/vmtest-logs)
#   SOCKLEAK_VM_TIMEOUT    seconds per kernel, boot included (default 900)
#   SOCKLEAK_ITEM_TIMEOUT  seconds per test item (default 300)
#   SOCKLEAK_VM_ACCEL      auto (KVM when a probe boots, else TCG), kvm or tcg (default auto)
#   SOCKLEAK_VM_MEMORY     guest memory in MiB (default 2048)
#   SOCKLEAK_VM_CPUS       guest CPUs (default 2)
#   SOCKLEAK_VM_JOBS       kernels booted at once (default 2: under TCG a guest keeps about
#                          one host core busy, its tests mostly wait; 1: one after another)
#   SOCKLEAK_VM_REFRESH    1: look for newer kernel packages even when some are cached
# Exit status: 0 when every item passed or skipped on every kernel, 1 when one failed or a
# kernel did not boot or finish, 2 on usage errors or a missing build, 77 when not root.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
vm_dir=$repo/scripts/vm
build_dir=${SOCKLEAK_BUILD_DIR:-$repo/build}
cache_dir=${SOCKLEAK_VM_CACHE:-/var/cache/sockleak-vmtest}
logs_dir=${SOCKLEAK_VM_LOGS:-$build_dir/vmtest-logs}
vm_timeout=${SOCKLEAK_VM_TIMEOUT:-900}
export SOCKLEAK_ITEM_TIMEOUT=${SOCKLEAK_ITEM_TIMEOUT:-300}
accel_mode=${SOCKLEAK_VM_ACCEL:-auto}
vm_memory=${SOCKLEAK_VM_MEMORY:-2048}
vm_cpus=${SOCKLEAK_VM_CPUS:-2}
vm_jobs=${SOCKLEAK_VM_JOBS:-2}
refresh=${SOCKLEAK_VM_REFRESH:-0}

readonly ALL_KERNELS=(5.10 6.1 6.12 host)
readonly HOST_PACKAGES=(qemu-system-x86 busybox-static kmod cpio xz-utils zstd)
# Modules the guest loads from its initramfs, dependencies resolved through modules.dep.
# Required: the 9p root. Optional: sock_diag for ss (the guest cannot autoload modules:
# the host root it runs on has no modules of the guest's kernel).
readonly REQUIRED_MODULES=(virtio_pci 9pnet_virtio 9p)
readonly OPTIONAL_MODULES=(inet_diag tcp_diag udp_diag unix_diag)
readonly KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# Time kept for booting (~5 s under TCG) and powering off out of the per-kernel timeout:
# the guest bounds its command by the rest, so that it still reports a hung item itself.
readonly BOOT_MARGIN=60

run_dir=''
child_pid=''
follower_pid=''
boot_pids=()
last_rc=0
accel=''
declare -A row_uname=() row_wall=() row_boot=() row_error=()

log() {
  echo "vmtest: $*"
}

# die MESSAGE [EXIT_STATUS]
die() {
  echo "vmtest: $1" >&2
  exit "${2:-1}"
}

# --- host side -------------------------------------------------------------------------

# Installs what the VMs need, only what is missing, with one apt-get update at most.
ensure_host_packages() {
  local missing=() pkg
  for pkg in "${HOST_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

check_build() {
  local bin missing=()
  for bin in sockleak tests/bpf/bpf_tests tests/integration/integration_tests; do
    [[ -x $build_dir/$bin ]] || missing+=("$build_dir/$bin")
  done
  if ((${#missing[@]})); then
    die "missing ${missing[*]}: build first (scripts/build.sh); this script builds nothing" 2
  fi
  # The guests see the host's root, but fresh /tmp, /run and /boot of their own.
  local path real
  for path in "$repo" "$build_dir"; do
    real=$(realpath "$path")
    case $real/ in
      /tmp/* | /run/* | /boot/*)
        die "$real: the VMs mount /tmp, /run and /boot afresh and cannot see it; use a checkout and build dir elsewhere (e.g. under /var/tmp)" 2 ;;
    esac
  done
}

# Runs "$@" in a background subshell with errexit in force and leaves its exit status in
# last_rc. Bash ignores set -e inside anything run as an if/&&/|| condition, so the steps
# that may fail (fetching, building the initramfs) run through this instead; and a
# background job plus wait lets the INT/TERM traps fire at once and end it by its pid.
run_checked() {
  set +e
  (
    set -e
    "$@"
  ) &
  child_pid=$!
  wait "$child_pid"
  last_rc=$?
  child_pid=''
  set -e
}

# Streams a growing log file to stdout, indented, until process PID has exited.
follow() {
  local file=$1 pid=$2
  tail -n +1 -s 0.5 -f --pid="$pid" "$file" | sed -u 's/^/    /'
}

# Ends pid and every process under it, children first stopped so none is re-parented and
# left running (an apt-get or dpkg holding its lock, a qemu).
kill_tree() {
  local pid=$1 child
  kill -STOP "$pid" 2>/dev/null || true
  for child in $(pgrep -P "$pid" 2>/dev/null); do kill_tree "$child"; done
  kill -TERM "$pid" 2>/dev/null || true
  kill -CONT "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  if [[ -n $child_pid ]]; then
    kill_tree "$child_pid"
    wait "$child_pid" 2>/dev/null || true
  fi
  if [[ -n $follower_pid ]]; then kill -TERM "$follower_pid" 2>/dev/null || true; fi
  local pid
  for pid in "${boot_pids[@]}"; do
    kill_tree "$pid"
    wait "$pid" 2>/dev/null || true
  done
  if [[ -n $run_dir && -d $run_dir ]]; then
    keep_logs || true
    rm -rf "$run_dir"
  fi
  exit "$rc"
}

# Copies what explains a run (results, per-item output, consoles, the matrix) out of the
# run's temp dir into $logs_dir/<kernel>/, replacing earlier runs' logs of every kernel.
# Only those subdirectories are removed: $logs_dir itself may be anything.
keep_logs() {
  local k
  mkdir -p "$logs_dir"
  for k in "${ALL_KERNELS[@]}"; do
    rm -rf "${logs_dir:?}/$k"
    [[ -d $run_dir/$k ]] || continue
    mkdir -p "$logs_dir/$k"
    cp -r "$run_dir/$k/out/." "$logs_dir/$k/" 2>/dev/null || true
    if [[ -f $run_dir/$k/console.log ]]; then cp "$run_dir/$k/console.log" "$logs_dir/$k/"; fi
  done
  if [[ -f $run_dir/matrix.txt ]]; then cp "$run_dir/matrix.txt" "$logs_dir/"; fi
  log "logs of this run: $logs_dir"
}

# --- kernel packages -------------------------------------------------------------------

# The Debian archive and security archive URIs the host's apt uses (deb.debian.org when
# none is configured), one per line: the kernels come from the same mirror.
host_mirrors() {
  local main='' security='' uri suite
  while read -r uri suite; do
    if [[ $suite == *-security* ]]; then
      security=${security:-$uri}
    else
      main=${main:-$uri}
    fi
  done < <(apt_source_lines)
  echo "${main:-http://deb.debian.org/debian}"
  echo "${security:-http://deb.debian.org/debian-security}"
}

# "URI SUITE" for every enabled Debian deb source of the host (one-line and deb822 formats).
apt_source_lines() {
  local debian='^(buster|bullseye|bookworm|trixie|forky|sid|oldstable|stable|testing|unstable)(-[a-z]+)?(/updates)?$'
  local files=() f
  shopt -s nullglob
  files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list)
  for f in "${files[@]}"; do
    [[ -f $f ]] || continue
    sed -E -n 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+)[[:space:]]+([^[:space:]]+).*/\2 \3/p' "$f"
  done | awk -v re="$debian" '$2 ~ re'
  files=(/etc/apt/sources.list.d/*.sources)
  shopt -u nullglob
  ((${#files[@]})) || return 0
  # deb822: paragraphs separated by blank lines; every URI with every suite.
  awk -v re="$debian" '
    function flush(   i, j, nu, ns, u, s) {
      if (types ~ /(^| )deb( |$)/ && enabled != "no") {
        nu = split(uris, u, " "); ns = split(suites, s, " ")
        for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) if (s[j] ~ re) print u[i], s[j]
      }
      types = uris = suites = enabled = ""
    }
    /^[[:space:]]*$/ { flush(); next }
    /^#/ { next }
    tolower($1) == "types:" { $1 = ""; types = $0 }
    tolower($1) == "uris:" { $1 = ""; uris = $0 }
    tolower($1) == "suites:" { $1 = ""; suites = $0 }
    tolower($1) == "enabled:" { enabled = tolower($2) }
    END { flush() }' "${files[@]}"
}

# The suites a kernel series comes from, as "main|security SUITE" lines.
kernel_suites() {
  case $1 in
    5.10) printf '%s\n' "main bullseye" "security bullseye-security" ;;
    6.1) printf '%s\n' "main bookworm" "main bookworm-updates" "security bookworm-security" ;;
    6.12) printf '%s\n' "main bookworm-backports" ;;
    *) return 1 ;;
  esac
}

# apt-get/apt-cache options for a private apt state of one kernel series: its own sources,
# lists, cache and an empty dpkg status. The host's apt configuration is never touched.
apt_opts() {
  local d=$cache_dir/apt/$1
  printf '%s\n' -o "Dir::Etc::SourceList=$d/sources.list" -o "Dir::Etc::SourceParts=$d/empty" \
    -o "Dir::Etc::Preferences=$d/empty/none" -o "Dir::Etc::PreferencesParts=$d/empty" \
    -o "Dir::State::Lists=$d/lists" -o "Dir::State::status=$d/status" -o "Dir::Cache=$d/cache" \
    -o "APT::Architectures::=amd64" -o "Acquire::Languages=none" -o "APT::Sandbox::User=root" -q
}

apt_state_init() {
  local label=$1 d=$cache_dir/apt/$1 where suite uri mirrors
  mapfile -t mirrors < <(host_mirrors)
  mkdir -p "$d/empty" "$d/lists/partial" "$d/cache/archives/partial"
  : >"$d/status"
  while read -r where suite; do
    uri=${mirrors[0]}
    if [[ $where == security ]]; then uri=${mirrors[1]}; fi
    echo "deb [signed-by=$KEYRING] $uri $suite main"
  done < <(kernel_suites "$label") >"$d/sources.list"
}

# Name of the newest kernel image package of a series: the one the suites' linux-image-amd64
# metapackage depends on, or else the highest linux-image-SERIES.* there is. The -unsigned
# variant when it exists (same files as the signed one, no shim/signing dependencies).
resolve_kernel_package() {
  local label=$1 opts dep
  mapfile -t opts < <(apt_opts "$label")
  dep=$(apt-cache "${opts[@]}" depends linux-image-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
  if [[ $dep != "linux-image-$label".* && $dep != "linux-image-$label"-* ]]; then
    dep=$(apt-cache "${opts[@]}" pkgnames "linux-image-$label" |
      grep -E "^linux-image-${label//./\\.}[.-].*-amd64$" | sort -V | tail -n 1) || true
  fi
  if [[ -z $dep ]]; then
    echo "no linux-image-$label package in $(kernel_suites "$label" | awk '{print $2}' | paste -sd ' ')" >&2
    return 1
  fi
  if apt-cache "${opts[@]}" show "$dep-unsigned" >/dev/null 2>&1; then
    echo "$dep-unsigned"
  else
    echo "$dep"
  fi
}

# KEY (PKG, VERSION or KVER) of LABEL's cached kernel, from its kernel.env.
kernel_info() {
  sed -n "s/^$2=//p" "$cache_dir/kernels/$1/kernel.env"
}

# Makes $cache_dir/kernels/LABEL hold an extracted kernel package (boot/vmlinuz-*,
# lib/modules with modules.dep) and kernel.env describing it. Downloads only when nothing
# is cached (or SOCKLEAK_VM_REFRESH=1 finds a newer package).
fetch_kernel() {
  local label=$1 dest=$cache_dir/kernels/$1 opts pkg tmp deb kver
  if [[ -f $dest/kernel.env && $refresh != 1 ]]; then
    log "$label: cached $(kernel_info "$label" PKG) $(kernel_info "$label" VERSION)"
    return 0
  fi
  rm -rf "$cache_dir/kernels/.$label".* # left by an interrupted fetch (we hold the lock)
  apt_state_init "$label"
  mapfile -t opts < <(apt_opts "$label")
  log "$label: apt-get update ($(kernel_suites "$label" | awk '{print $2}' | paste -sd ' '))"
  apt-get "${opts[@]}" update >/dev/null
  pkg=$(resolve_kernel_package "$label")
  if [[ -f $dest/kernel.env ]] && [[ $(kernel_info "$label" PKG) == "$pkg" ]]; then
    log "$label: cached $pkg is the newest"
    return 0
  fi
  tmp=$(mktemp -d "$cache_dir/kernels/.$label.XXXXXX")
  log "$label: downloading $pkg"
  (cd "$tmp" && apt-get "${opts[@]}" download "$pkg" >/dev/null)
  deb=$(echo "$tmp"/*.deb)
  dpkg -x "$deb" "$tmp"
  # Trees from a merged-/usr build keep their modules under usr/lib: depmod -b wants lib/.
  if [[ ! -e $tmp/lib ]]; then ln -s usr/lib "$tmp/lib"; fi
  kver=$(basename "$(echo "$tmp"/lib/modules/*)")
  if [[ ! -f $tmp/boot/vmlinuz-$kver ]]; then
    echo "$pkg has no boot/vmlinuz-$kver" >&2
    return 1
  fi
  depmod -b "$tmp" "$kver"
  printf 'PKG=%s\nVERSION=%s\nKVER=%s\n' "$pkg" "$(dpkg-deb -f "$deb" Version)" "$kver" >"$tmp/kernel.env"
  rm -f "$deb"
  rm -rf "$dest"
  mv "$tmp" "$dest"
  log "$label: $pkg extracted, kernel $kver"
}

# --- initramfs -------------------------------------------------------------------------

# Copies module NAME (with its dependencies, in load order) into the initramfs, decompressed:
# busybox insmod hands the file to init_module as it is. Returns 1 when the kernel has no
# such module (neither as a file nor built in).
add_module() {
  local tree=$1 kver=$2 staging=$3 name=$4 deps kind path base
  deps=$(modprobe -d "$tree" -S "$kver" --show-depends "$name" 2>/dev/null) || return 1
  while read -r kind path _; do
    [[ $kind == insmod ]] || continue # "builtin NAME": nothing to load
    base=$(basename "$path")
    base=${base%.xz}
    base=${base%.zst}
    if grep -qxF "$base" "$staging/lib/modules/order"; then continue; fi
    case $path in
      *.xz) xz -dc "$path" >"$staging/lib/modules/$base" ;;
      *.zst) zstd -qdc "$path" >"$staging/lib/modules/$base" ;;
      *) cp "$path" "$staging/lib/modules/$base" ;;
    esac
    echo "$base" >>"$staging/lib/modules/order"
  done <<<"$deps"
}

# Writes an initramfs (uncompressed newc cpio) for LABEL's kernel to FILE: static busybox
# with its applet links, the 9p/virtio (and sock_diag) modules, scripts/vm/init.sh as /init.
build_initramfs() {
  local label=$1 file=$2 tree=$cache_dir/kernels/$1 staging kver m applet
  kver=$(kernel_info "$label" KVER)
  staging=$(mktemp -d "$run_dir/initramfs.XXXXXX")
  mkdir -p "$staging"/{bin,dev,proc,sys,lib/modules}
  : >"$staging/lib/modules/order"
  cp /bin/busybox "$staging/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [[ $applet == busybox ]] || ln -s busybox "$staging/bin/$applet"
  done
  for m in "${REQUIRED_MODULES[@]}"; do
    if ! modprobe -d "$tree" -S "$kver" --show-depends "$m" >/dev/null 2>&1; then
      echo "$label: kernel $kver has no module $m" >&2
      return 1
    fi
    add_module "$tree" "$kver" "$staging" "$m"
  done
  for m in "${OPTIONAL_MODULES[@]}"; do
    if modprobe -d "$tree" -S "$kver" --show-depends "$m" >/dev/null 2>&1; then
      add_module "$tree" "$kver" "$staging" "$m"
    else
      log "$label: kernel $kver has no module $m, not loaded"
    fi
  done
  install -m 755 "$vm_dir/init.sh" "$staging/init"
  mknod -m 600 "$staging/dev/console" c 5 1
  mknod -m 666 "$staging/dev/null" c 1 3
  (cd "$staging" && find . -print0 | cpio --null -o -H newc --quiet) >"$file"
  rm -rf "$staging"
}

# --- running ---------------------------------------------------------------------------

# Decides KVM or TCG once per run. KVM only when a real boot works: on some hosts /dev/kvm
# exists but guests die at once ("failed to set MSR") or hang without a console line. The
# probe boots the kernel without an initramfs: under KVM it panics at mounting root within
# a second or two, and panic=-1 with -no-reboot ends qemu with 0. Otherwise it costs ~15 s,
# so its verdict is kept in the cache per host kernel and qemu version.
choose_accel() {
  local vmlinuz=$1 probe_log=$run_dir/kvm-probe.log probe_rc=0 verdict_file
  if [[ -n $accel ]]; then return 0; fi
  accel=tcg
  case $accel_mode in
    tcg) ;;
    kvm | auto)
      verdict_file=$cache_dir/kvm-probe.$(uname -r).$(qemu-system-x86_64 --version | sed -n '1s/.*version \([^ ]*\).*/\1/p')
      if [[ ! -w /dev/kvm ]]; then
        log "no writable /dev/kvm"
      elif [[ -f $verdict_file && $refresh != 1 ]]; then
        accel=$(<"$verdict_file")
        log "KVM probe (cached in $verdict_file): $accel"
      else
        timeout --kill-after=5 10 qemu-system-x86_64 -nodefaults -no-user-config -display none \
          -no-reboot -accel kvm -cpu host -m 256 -kernel "$vmlinuz" -append "console=ttyS0 panic=-1" \
          -serial "file:$probe_log" >"$probe_log.err" 2>&1 || probe_rc=$?
        if ((probe_rc == 0)) && grep -q 'Kernel panic' "$probe_log"; then
          accel=kvm
        elif ((probe_rc == 124 || probe_rc == 137)); then
          log "KVM probe: no boot within 10 s"
        else
          log "KVM probe failed: $(head -n 2 "$probe_log.err" | tr '\n' ' ')"
        fi
        echo "$accel" >"$verdict_file"
      fi
      if [[ $accel_mode == kvm && $accel != kvm ]]; then
        die "SOCKLEAK_VM_ACCEL=kvm but KVM does not work here"
      fi
      ;;
  esac
  log "accelerator: ${accel^^}"
}

# The command the guest runs (as root, in the host root with fresh /tmp, /run, /boot):
# guest-tests.sh with the host's fd limits, writing its files to the out share.
write_guest_command() {
  local file=$1
  {
    echo "ulimit -Hn $(ulimit -Hn) && ulimit -Sn $(ulimit -Sn)"
    # The guest starts with an empty environment: pass on what guest-tests.sh reads.
    printf 'export SOCKLEAK_ITEM_TIMEOUT=%q\n' "$SOCKLEAK_ITEM_TIMEOUT"
    if [[ -n ${SOCKLEAK_TEST_TAGS:-} ]]; then
      printf 'export SOCKLEAK_TEST_TAGS=%q\n' "$SOCKLEAK_TEST_TAGS"
    fi
    printf 'exec %q %q /run/vmtest-out\n' "$vm_dir/guest-tests.sh" "$build_dir"
  } >"$file"
}

# Runs "$@" in the background, its output appended to OUT, while streaming LOG (which the
# command fills) to stdout; leaves its exit status in last_rc. In the background so that
# the INT/TERM traps fire at once and end it by its pid: timeout(1) runs in a process group
# of its own and would not see a terminal's ^C.
run_followed() {
  local log=$1 out=$2
  shift 2
  "$@" >>"$out" 2>&1 </dev/null &
  child_pid=$!
  follow "$log" "$child_pid" &
  follower_pid=$!
  last_rc=0
  wait "$child_pid" || last_rc=$?
  child_pid=''
  wait "$follower_pid" || true
  follower_pid=''
}

# Boots LABEL's kernel (prepared by fetch_kernel, with DIR/initramfs.cpio built) and runs
# the guest command; leaves out/exit-status, out/results, out/guest.log and console.log in
# DIR, or out/host-error when qemu did not end by itself.
run_vm() {
  local label=$1 dir=$2 tree=$cache_dir/kernels/$1 kver vmlinuz cpu_args
  kver=$(kernel_info "$label" KVER)
  vmlinuz=$tree/boot/vmlinuz-$kver
  if [[ $accel == kvm ]]; then
    cpu_args=(-accel kvm -cpu host)
  else
    cpu_args=(-accel "tcg,thread=multi" -cpu max)
  fi
  write_guest_command "$dir/out/command"
  : >"$dir/out/guest.log"
  log "$label: booting $kver under ${accel^^} (${vm_cpus} CPUs, ${vm_memory} MiB, timeout ${vm_timeout}s)"
  # mitigations=off: TCG pays dearly for them, and privileged BPF loads bypass the
  # verifier's speculation mitigations anyway. multidevs=remap: the host root spans several
  # file systems whose inode numbers would otherwise collide in the guest.
  run_followed "$dir/out/guest.log" "$dir/qemu.log" \
    timeout --kill-after=10 "$vm_timeout" qemu-system-x86_64 \
    -nodefaults -no-user-config -display none -no-reboot \
    -machine pc "${cpu_args[@]}" -smp "$vm_cpus" -m "$vm_memory" \
    -kernel "$vmlinuz" -initrd "$dir/initramfs.cpio" \
    -append "console=ttyS0 panic=-1 mitigations=off random.trust_cpu=on sockleak.timeout=$((vm_timeout - BOOT_MARGIN))" \
    -serial "file:$dir/console.log" \
    -fsdev "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap" \
    -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
    -fsdev "local,id=out,path=$dir/out,security_model=none,multidevs=remap" \
    -device virtio-9p-pci,fsdev=out,mount_tag=out
  if ((last_rc == 124 || last_rc == 137)); then
    echo "qemu killed after ${vm_timeout}s (SOCKLEAK_VM_TIMEOUT)" >"$dir/out/host-error"
  elif ((last_rc != 0)); then
    echo "qemu exited with status $last_rc: $(tail -n 3 "$dir/qemu.log" | tr '\n' ' ')" >"$dir/out/host-error"
  fi
}

# Runs the guest command on the host's own kernel, in a private mount namespace with an
# empty /boot and /proc/config.gz masked by /dev/null, so no config file is visible here
# either.
run_host() {
  local dir=$1
  : >"$dir/out/guest.log"
  log "host: running on $(uname -r) (timeout ${vm_timeout}s)"
  # shellcheck disable=SC2016 # expanded by the inner shell
  run_followed "$dir/out/guest.log" "$dir/out/guest.log" \
    timeout --kill-after=10 "$vm_timeout" unshare -m -- bash -c '
      set -e
      if [[ -d /boot ]]; then mount -t tmpfs -o mode=755,size=64k sockleak-noboot /boot; fi
      if [[ -e /proc/config.gz ]]; then mount --bind /dev/null /proc/config.gz; fi
      exec "$@"' bash "$vm_dir/guest-tests.sh" "$build_dir" "$dir/out"
  echo "$last_rc" >"$dir/out/exit-status"
  if ((last_rc == 124 || last_rc == 137)); then
    echo "killed after ${vm_timeout}s (SOCKLEAK_VM_TIMEOUT)" >"$dir/out/host-error"
  fi
}

# Why a kernel's run has no trustworthy result, or nothing when it finished.
run_error() {
  local out=$1
  if [[ -s $out/init-error ]]; then
    echo "guest setup failed: $(head -n 1 "$out/init-error")"
  elif [[ -s $out/host-error ]]; then
    head -n 1 "$out/host-error"
  elif [[ ! -s $out/exit-status ]]; then
    echo "no result from the guest (did not boot or did not finish; see console.log)"
  else
    case $(<"$out/exit-status") in
      0 | 1) ;;
      2) echo "guest-tests.sh: missing binaries or usage error" ;;
      3) echo "kernel config visible to the tests" ;;
      124 | 137) echo "guest command killed after $((vm_timeout - BOOT_MARGIN))s" ;;
      *) echo "guest-tests.sh exited with status $(<"$out/exit-status")" ;;
    esac
  fi
}

# Fetches LABEL's kernel and builds its initramfs (nothing for host); a failure is left in
# its out/host-error. Kernels are prepared one at a time: they share the apt cache.
prepare_kernel() {
  local label=$1 dir=$run_dir/$1 start
  mkdir -p "$dir/out"
  [[ $label == host ]] && return 0
  start=$(date +%s)
  run_checked fetch_kernel "$label"
  if ((last_rc != 0)); then
    echo "cannot fetch the $label kernel (see above)" >"$dir/out/host-error"
    return 0
  fi
  run_checked build_initramfs "$label" "$dir/initramfs.cpio"
  if ((last_rc != 0)); then
    echo "cannot build the $label initramfs (see above)" >"$dir/out/host-error"
    return 0
  fi
  choose_accel "$cache_dir/kernels/$label/boot/vmlinuz-$(kernel_info "$label" KVER)"
  log "$label: kernel and initramfs ready in $(fmt_duration $(($(date +%s) - start)))"
}

# Boots a prepared kernel (or runs on the host's) and leaves the wall time of the run in
# DIR/wall-seconds: boot, tests, power-off.
boot_kernel() {
  local label=$1 dir=$run_dir/$1 start
  start=$(date +%s)
  if [[ $label == host ]]; then
    run_host "$dir"
  elif [[ ! -s $dir/out/host-error ]]; then
    run_vm "$label" "$dir"
    # Under TCG a guest once died of "Oops: int3" inside its own live code patching
    # (text_poke_bp, which flips a tracepoint's static key at every attach and detach)
    # while another vCPU ran the patched code; the same kernel passed on the next boot.
    # Such a run gets one more boot; its console is kept, and the log says so.
    if [[ ! -s $dir/out/exit-status ]] && grep -q "Oops: int3" "$dir/console.log" 2>/dev/null; then
      log "$label: guest kernel oops (int3) in its own code patching under ${accel^^}; booting it once more (console kept as console-int3-oops.log)"
      mv "$dir/console.log" "$dir/console-int3-oops.log"
      rm -rf "$dir/out" && mkdir -p "$dir/out"
      start=$(date +%s)
      run_vm "$label" "$dir"
    fi
  fi
  echo $(($(date +%s) - start)) >"$dir/wall-seconds"
}

# Records LABEL's row from what its run left behind, and says what went wrong.
record_row() {
  local label=$1 dir=$run_dir/$1 err
  row_wall[$label]=$(cat "$dir/wall-seconds" 2>/dev/null || echo 0)
  row_uname[$label]=$(cat "$dir/out/uname" 2>/dev/null || echo "$label (no uname)")
  if [[ $label == host ]]; then row_uname[$label]+=" (host)"; fi
  row_boot[$label]=$(cat "$dir/out/boot-seconds" 2>/dev/null || echo -)
  err=$(run_error "$dir/out")
  row_error[$label]=$err
  if [[ -n $err ]]; then
    log "$label: ERROR: $err"
    if [[ -s $dir/console.log ]]; then
      log "$label: last lines of the console:"
      tail -n 30 "$dir/console.log" | sed 's/^/    | /'
    fi
  fi
  log "$label: done in $(fmt_duration "${row_wall[$label]}")"
}

# Boots the prepared kernels, up to $vm_jobs at once. One at a time, each streams its
# guest's output; together, each one's output goes to DIR/boot.log, printed when it ends.
boot_kernels() {
  local label pid
  if ((vm_jobs <= 1 || $# == 1)); then
    for label in "$@"; do
      echo
      log "=== $label ==="
      boot_kernel "$label"
    done
    return 0
  fi
  log "booting ${*} ($vm_jobs at a time; each one's output follows when it ends)"
  declare -A running=()
  for label in "$@"; do
    while ((${#running[@]} >= vm_jobs)); do
      wait -n || true
      reap_boots running
    done
    (boot_kernel "$label") >"$run_dir/$label/boot.log" 2>&1 &
    running[$label]=$!
    boot_pids+=($!)
  done
  while ((${#running[@]})); do
    wait -n || true
    reap_boots running
  done
}

# Prints the output of the boots in the named array that have ended, and forgets them.
reap_boots() {
  local -n boots=$1
  local label
  for label in "${!boots[@]}"; do
    if ! kill -0 "${boots[$label]}" 2>/dev/null; then
      wait "${boots[$label]}" 2>/dev/null || true
      echo
      log "=== $label ==="
      cat "$run_dir/$label/boot.log"
      unset "boots[$label]"
    fi
  done
}

fmt_duration() {
  printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
}

# Status (or, with "secs", seconds) of ITEM on LABEL from its results file; "-" when absent.
cell() {
  local label=$1 item=$2 field=3
  if [[ ${3:-} == secs ]]; then field=4; fi
  awk -v item="$item" -v f="$field" '$1 == "RESULT" && $2 == item { v = $f } END { print (v == "" ? "-" : v) }' \
    "$run_dir/$label/out/results" 2>/dev/null || echo -
}

# The items in the order they ran on the first kernel that reported any.
matrix_items() {
  local label
  for label in "$@"; do
    if [[ -s $run_dir/$label/out/results ]]; then
      awk '$1 == "RESULT" { print $2 }' "$run_dir/$label/out/results"
      return 0
    fi
  done
}

# Prints the matrix (one row per kernel, one column per item) twice: statuses, then seconds.
# Returns 1 when a cell is FAIL or a kernel has no complete result.
print_matrix() {
  local kernels=("$@") items=() label item what w status bad=0 width=8 kw=24
  mapfile -t items < <(matrix_items "${kernels[@]}")
  for label in "${kernels[@]}"; do
    if ((${#row_uname[$label]} > kw)); then kw=${#row_uname[$label]}; fi
  done
  for what in status secs; do
    echo
    if [[ $what == status ]]; then log "matrix (PASS/FAIL/SKIP; - = no result)"; else log "seconds per item"; fi
    printf '%-*s %8s %6s' "$kw" kernel wall boot
    for item in "${items[@]}"; do
      w=$((${#item} > width ? ${#item} : width))
      printf ' %-*s' "$w" "$item"
    done
    echo
    for label in "${kernels[@]}"; do
      printf '%-*s %8s %6s' "$kw" "${row_uname[$label]}" "$(fmt_duration "${row_wall[$label]}")" "${row_boot[$label]%.*}"
      for item in "${items[@]}"; do
        w=$((${#item} > width ? ${#item} : width))
        if [[ $what == status ]]; then
          status=$(cell "$label" "$item")
          if [[ $status != PASS && $status != SKIP ]]; then bad=1; fi
        else
          status=$(cell "$label" "$item" secs)
        fi
        printf ' %-*s' "$w" "$status"
      done
      if [[ $what == status && -n ${row_error[$label]} ]]; then printf '  ERROR: %s' "${row_error[$label]}"; fi
      echo
    done
  done
  for label in "${kernels[@]}"; do
    if [[ -n ${row_error[$label]} ]]; then bad=1; fi
  done
  if ((${#items[@]} == 0)); then bad=1; fi
  return "$bad"
}

main() {
  local requested=("$@") kernels=() k bad=0
  ((${#requested[@]})) || requested=("${ALL_KERNELS[@]}")
  for k in "${requested[@]}"; do
    [[ " ${ALL_KERNELS[*]} " == *" $k "* ]] || die "unknown kernel '$k' (one of: ${ALL_KERNELS[*]})" 2
    if [[ " ${kernels[*]} " != *" $k "* ]]; then kernels+=("$k"); fi
  done
  case $accel_mode in
    auto | kvm | tcg) ;;
    *) die "SOCKLEAK_VM_ACCEL must be auto, kvm or tcg" 2 ;;
  esac
  [[ $vm_jobs =~ ^[1-9][0-9]*$ ]] || die "SOCKLEAK_VM_JOBS must be a number of kernels, at least 1" 2
  if ! [[ $vm_timeout =~ ^[0-9]+$ ]] || ((vm_timeout < 2 * BOOT_MARGIN)); then
    die "SOCKLEAK_VM_TIMEOUT must be a number of seconds, at least $((2 * BOOT_MARGIN))" 2
  fi
  [[ $(id -u) -eq 0 ]] || die "needs root (qemu shares the whole root file system, unshare, apt)" 77
  check_build
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  if [[ " ${kernels[*]} " != " host " ]]; then
    # In the background so that INT/TERM end apt-get and dpkg too, not just this script.
    run_checked ensure_host_packages
    ((last_rc == 0)) || die "could not install ${HOST_PACKAGES[*]}" 3
    mkdir -p "$cache_dir/kernels"
    # One run at a time per cache: two fetches of a kernel would trip over each other.
    exec {lock_fd}>"$cache_dir/lock"
    flock -w 3600 "$lock_fd" || die "another vmtest.sh holds $cache_dir/lock"
  fi
  run_dir=$(mktemp -d /tmp/sockleak-vmtest.XXXXXX)
  log "build dir $build_dir; kernels: ${kernels[*]}"
  for k in "${kernels[@]}"; do
    prepare_kernel "$k"
  done
  boot_kernels "${kernels[@]}"
  for k in "${kernels[@]}"; do
    record_row "$k"
  done
  print_matrix "${kernels[@]}" >"$run_dir/matrix.txt" || bad=1
  sed -i 's/ *$//' "$run_dir/matrix.txt" # the last column's padding
  cat "$run_dir/matrix.txt"
  echo
  if ((bad)); then
    log "FAILED (see the rows above and the logs)"
    return 1
  fi
  log "all kernels passed"
}

main "$@"
