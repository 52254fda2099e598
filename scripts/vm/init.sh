#!/bin/sh
# PID 1 of a sockleak test VM: /init of the initramfs that scripts/vmtest.sh builds (static
# busybox, the modules listed in /lib/modules/order, this script). It mounts the host's root
# file system (virtio-9p tag "hostroot", read-only) and the run's output directory (tag
# "out", writable), prepares a root for the tests with fresh kernel file systems and no
# kernel config file in sight, runs /run/vmtest-out/command in it as root, writes the exit
# status to out/exit-status and powers the machine off.
#
# Kernel command line: sockleak.timeout=SECONDS bounds the command (default 600).
# Results go through the "out" share, never through the console: the console carries
# this script's progress and kernel messages only, for debugging.

PATH=/bin
export PATH
NEWROOT=/newroot
OUT=/out
# PATH of the test command: the host's usual one (the host root is the test root).
GUEST_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() {
  echo "vm-init: $*"
}

# Ends the machine from any state: qemu runs with -no-reboot and the kernel with panic=-1,
# so a power-off, a sysrq power-off and a panic (PID 1 exiting) all end qemu.
halt_vm() {
  sync
  poweroff -f
  echo o >/proc/sysrq-trigger
  sleep 10
  exit 1
}

# Reports a setup failure through the out share when it is mounted (the host shows it as
# the kernel's error) and on the console, then stops the machine.
fail() {
  log "FATAL: $*"
  if grep -q " $OUT 9p " /proc/mounts 2>/dev/null; then
    echo "$*" >"$OUT/init-error"
  fi
  halt_vm
}

cmdline_timeout() {
  timeout_s=600
  read -r cmdline </proc/cmdline
  for arg in $cmdline; do
    case $arg in
      sockleak.timeout=*) timeout_s=${arg#*=} ;;
    esac
  done
  echo "$timeout_s"
}

# The modules the host resolved through modules.dep, dependencies first.
load_modules() {
  while read -r mod; do
    [ -n "$mod" ] || continue
    insmod "/lib/modules/$mod" || fail "insmod $mod failed"
  done </lib/modules/order
  log "modules loaded: $(tr '\n' ' ' </lib/modules/order)"
}

mount_shares() {
  # The out share first, so that every later failure can be reported through it.
  mkdir -p "$OUT" "$NEWROOT"
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out "$OUT" ||
    fail "cannot mount the out share"
  # cache=loose: the host root is read-only and the test binaries are read many times.
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=loose,ro hostroot "$NEWROOT" ||
    fail "cannot mount the host root share"
}

# Kernel file systems of this kernel over the host's directories, writable tmpfs where
# tests write (the shared root is read-only), and an empty /boot: the host's
# /boot/config-* must not be visible to the tests.
prepare_root() {
  r=$NEWROOT
  mount -t proc proc "$r/proc" || fail "mount proc"
  mount -t sysfs sysfs "$r/sys" || fail "mount sysfs"
  mount -t devtmpfs devtmpfs "$r/dev" || fail "mount devtmpfs"
  mkdir -p "$r/dev/pts" "$r/dev/shm"
  mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts "$r/dev/pts" || fail "mount devpts"
  mount -t tmpfs -o mode=1777 tmpfs "$r/dev/shm" || fail "mount /dev/shm"
  ln -sf /proc/self/fd "$r/dev/fd"
  ln -sf /proc/self/fd/0 "$r/dev/stdin"
  ln -sf /proc/self/fd/1 "$r/dev/stdout"
  ln -sf /proc/self/fd/2 "$r/dev/stderr"
  mount -t tmpfs -o mode=1777 tmpfs "$r/tmp" || fail "mount /tmp"
  mount -t tmpfs -o mode=755 tmpfs "$r/run" || fail "mount /run"
  [ -d "$r/boot" ] || fail "the host has no /boot directory to hide"
  mount -t tmpfs -o mode=755,size=64k tmpfs "$r/boot" || fail "mount an empty /boot"
  mount -t bpf bpf "$r/sys/fs/bpf" || fail "mount bpffs"
  mount -t cgroup2 cgroup2 "$r/sys/fs/cgroup" || fail "mount cgroup2"
  mkdir -p "$r/run/vmtest-out"
  mount --bind "$OUT" "$r/run/vmtest-out" || fail "bind the out share"
}

# Fails loudly when the guest could read a kernel config: the point of the VM runs is to
# test sockleak without one.
check_no_kernel_config() {
  for f in "$NEWROOT"/boot/config-*; do
    [ -e "$f" ] && fail "kernel config visible in the guest: ${f#"$NEWROOT"}"
  done
  [ -e "$NEWROOT/proc/config.gz" ] && fail "kernel config visible in the guest: /proc/config.gz"
  log "no kernel config visible (/boot/config-*, /proc/config.gz)"
}

main() {
  mount -t proc proc /proc
  mount -t sysfs sysfs /sys
  mount -t devtmpfs devtmpfs /dev
  log "kernel $(uname -r)"
  load_modules
  mount_shares
  prepare_root
  check_no_kernel_config
  ip link set lo up || fail "cannot bring lo up"
  hostname sockleak-vm
  [ -f "$OUT/command" ] || fail "no command in the out share"

  timeout_s=$(cmdline_timeout)
  cut -d ' ' -f 1 /proc/uptime >"$OUT/boot-seconds"
  log "running the test command (timeout ${timeout_s}s)"
  # coreutils timeout from the host root: it kills the command's whole process group.
  chroot "$NEWROOT" /usr/bin/env -i PATH="$GUEST_PATH" HOME=/tmp LANG=C.UTF-8 TERM=dumb \
    /usr/bin/timeout --kill-after=15 "$timeout_s" /bin/bash /run/vmtest-out/command \
    >>"$OUT/guest.log" 2>&1 </dev/null
  rc=$?
  echo "$rc" >"$OUT/exit-status"
  cut -d ' ' -f 1 /proc/uptime >"$OUT/end-seconds"
  log "test command exited with status $rc"
  halt_vm
}

main
