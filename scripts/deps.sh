#!/usr/bin/env bash
# Installs the Debian packages sockleak needs to build and test, only those missing.
# Sourced or run by scripts/run.sh and scripts/test.sh; idempotent, quiet when nothing is missing.
set -euo pipefail

SOCKLEAK_PACKAGES=(
  build-essential cmake pkg-config
  clang llvm
  libbpf-dev bpftool libelf-dev zlib1g-dev
  libcli11-dev nlohmann-json3-dev catch2
  libcpp-httplib-dev libdw-dev
  iproute2 procps util-linux
  podman runc catatonit prometheus-alertmanager
  prometheus systemd golang-go
)

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
