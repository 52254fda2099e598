#!/usr/bin/env bash
# Builds the sockleak OCI image with podman, offline, from this checkout: the Release binary
# and the shared libraries it links, on an empty base (FROM scratch). Nothing is pulled.
#   scripts/image.sh [NAME]    default localhost/sockleak:<version>
# Runs as root (podman's image store is root's); needs no registry and no network.
# Prints the image name as its last line. The entrypoint is sockleak itself:
#   podman run --rm --pid=host --network=host --cap-add=... IMAGE run --close-wait 1s
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SOCKLEAK_BUILD_DIR:-$root/build}
version=$(sed -n 's/^project(sockleak VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
name=${1:-localhost/sockleak:$version}

if ! command -v podman >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends podman >&2 ||
    { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends podman >&2; }
fi
# SOCKLEAK_IMAGE_BINARY: package that binary as it is (the tests pass the one they test).
binary=${SOCKLEAK_IMAGE_BINARY:-}
if [[ -z $binary ]]; then
  "$root/scripts/deps.sh"
  # An existing build keeps its configuration (a sanitizer build stays one).
  [[ -f $build/CMakeCache.txt ]] || cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" --target sockleak -j"$(nproc)" >&2
  binary=$build/sockleak
fi

stage=$(mktemp -d /tmp/sockleak-image.XXXXXX)
trap 'rm -rf "$stage"' EXIT
"$root/scripts/oci-rootfs.sh" "$stage/rootfs" "$binary"
cat >"$stage/Containerfile" <<CONTAINERFILE
FROM scratch
COPY rootfs/ /
LABEL org.opencontainers.image.title="sockleak" \\
      org.opencontainers.image.description="eBPF socket leak monitor: CLOSE_WAIT and idle ESTABLISHED sockets per process" \\
      org.opencontainers.image.version="$version"
ENTRYPOINT ["/usr/bin/sockleak"]
CMD ["run"]
CONTAINERFILE
podman build --quiet --network=none --pull=never -t "$name" -f "$stage/Containerfile" "$stage" >&2
size=$(podman image inspect --format '{{.Size}}' "$name")
echo "image.sh: $name, $((size / 1024 / 1024)) MB ($size bytes)" >&2
echo "$name"
