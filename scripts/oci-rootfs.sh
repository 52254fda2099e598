#!/usr/bin/env bash
# Fills ROOTFS with BINARY... (in /usr/bin, stripped) and every shared library they link,
# the dynamic loader included, at the paths it looks in; plus a minimal /etc. What an image
# FROM scratch needs to run a dynamically linked program. Used by scripts/image.sh and by
# the container tests for their application images.
#   scripts/oci-rootfs.sh ROOTFS BINARY...
set -euo pipefail
rootfs=$1
shift
for bin in "$@"; do
  install -D -m 0755 "$bin" "$rootfs/usr/bin/$(basename "$bin")"
  strip --strip-unneeded "$rootfs/usr/bin/$(basename "$bin")"
  { ldd "$bin" 2>/dev/null || true; } | awk '/=> \// {print $3} /^\t\/.*ld-linux/ {print $1}' | while read -r lib; do
    [[ -e $rootfs$lib ]] || install -D -m 0755 "$(readlink -f "$lib")" "$rootfs$lib"
  done
done
mkdir -p "$rootfs/etc" "$rootfs/tmp" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev"
printf 'root:x:0:0:root:/:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\n' >"$rootfs/etc/group"
