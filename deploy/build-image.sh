#!/usr/bin/env bash
# Builds the slotgate image from this repository without pulling anything: the release
# binaries (slotgate-node, slotgate-proxy, slotgate) and the shared libraries `ldd` lists for
# them (debug info stripped) go into a FROM scratch image (deploy/Dockerfile) with a non-root user (10001), a /data
# volume and a HEALTHCHECK. Prints the image's size.
# Usage: deploy/build-image.sh [TAG]   (default slotgate:latest)
# Env: SLOTGATE_BIN_DIR=dir of already built binaries (default: cargo build --release --bins)
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-slotgate:latest}
if [[ -z ${SLOTGATE_BIN_DIR:-} ]]; then
  cargo build --release --bins
  SLOTGATE_BIN_DIR=$PWD/target/release
fi
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
mkdir -p "$context/rootfs/usr/local/bin" "$context/rootfs/etc" "$context/rootfs/tmp" "$context/data"
chmod 1777 "$context/rootfs/tmp"
for bin in slotgate-node slotgate-proxy slotgate; do
  cp "$SLOTGATE_BIN_DIR/$bin" "$context/rootfs/usr/local/bin/$bin"
  # The release profile keeps line tables for profiling; the image does not need them.
  strip --strip-debug "$context/rootfs/usr/local/bin/$bin"
  # `name => /path (addr)` or `/path (addr)`; cp -L puts the real library at the soname path.
  for lib in $(ldd "$SLOTGATE_BIN_DIR/$bin" | grep -o '/[^ ]*'); do
    mkdir -p "$context/rootfs$(dirname "$lib")"
    cp -L "$lib" "$context/rootfs$lib"
  done
done
printf 'root:x:0:0:root:/:/nonexistent\nslotgate:x:10001:10001:slotgate:/data:/nonexistent\n' >"$context/rootfs/etc/passwd"
printf 'root:x:0:\nslotgate:x:10001:\n' >"$context/rootfs/etc/group"
cp deploy/Dockerfile "$context/Dockerfile"
# The legacy builder's deprecation notice is noise; its output is shown when the build fails.
if ! out=$(docker build --quiet --tag "$tag" "$context" 2>&1); then
  echo "$out" >&2
  exit 1
fi
size=$(docker image inspect --format '{{.Size}}' "$tag")
echo "$tag: $((size / 1024 / 1024)) MiB ($size bytes)"
