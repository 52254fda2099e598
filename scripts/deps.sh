#!/usr/bin/env bash
# Installs the Debian packages sockleak needs, only those missing.
#   scripts/deps.sh            to build sockleak and run its whole test suite (scripts/test.sh)
#   scripts/deps.sh --runtime  to build and run sockleak only (scripts/run.sh)
# Idempotent, quiet when nothing is missing.
set -euo pipefail

# What building sockleak takes (the binary then needs libbpf1, libelf1 and libdw1, which
# these pull in).
SOCKLEAK_PACKAGES=(
  build-essential cmake pkg-config
  clang llvm
  libbpf-dev bpftool libelf-dev zlib1g-dev
  libcli11-dev nlohmann-json3-dev libdw-dev
)
# What the test suite adds: its framework and HTTP client, the tools tests compare with,
# and the real programs they start (containers with busybox, Alertmanager, Prometheus' promtool, Go).
if [[ ${1:-} != --runtime ]]; then
  SOCKLEAK_PACKAGES+=(
    catch2 libcpp-httplib-dev
    iproute2 procps util-linux
    podman runc catatonit busybox-static prometheus-alertmanager
    prometheus systemd golang-go time
  )
fi

missing=()
for pkg in "${SOCKLEAK_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "sockleak: missing packages: ${missing[*]} (run as root to install them)" >&2
    exit 77
  fi
  echo "sockleak: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
