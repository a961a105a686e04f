#!/usr/bin/env bash
# Runs every test of the workspace on a fresh Debian machine: installs the real Redis tools the
# end-to-end suites drive (redis-server, redis-cli, redis-benchmark), builds the binaries, then
# runs lint and all unit and end-to-end tests. It reaches Debian's packages and PyPI only.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
# Certificates for the TLS suites are made with openssl.
command -v openssl >/dev/null || need+=(openssl)
# The status page is checked in a real browser (headless Chromium).
command -v chromium >/dev/null || need+=(chromium)
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Debian starts a system redis-server on install; the suites use their own ports, but stop it
# so nothing else answers on 6379 while tests run.
(service redis-server stop || systemctl stop redis-server) >/dev/null 2>&1 || true

# The container suites need a running Docker engine (no registry: they build their own images).
if ! command -v docker >/dev/null; then
  apt-get update -qq && apt-get install -y -qq docker.io >/dev/null
fi
docker version >/dev/null 2>&1 || (service docker start || systemctl start docker) >/dev/null 2>&1 || true
docker version >/dev/null || { echo "test.sh: no Docker engine answers; the container suites need one" >&2; exit 1; }
# The compose suite runs deploy/compose.yaml.
command -v docker-compose >/dev/null || { apt-get update -qq && apt-get install -y -qq docker-compose >/dev/null; }

# Node.js clients (ioredis, the guide's client) for the interop suites.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
# From the tarballs in tests/js/vendor: the npm registry is not reachable from our machines.
tests/js/install.sh
# redis-py for the Python client suites.
python3 -m pip install --quiet -r tests/py/requirements.txt

export CI=${CI:-1}
cargo fmt --all -- --check
# The end-to-end suites run the optimized servers: clusters of debug builds spend their time
# in the interpreter-speed slot loops, not in what the tests check.
cargo build --release --bins
export SLOTGATE_BIN_DIR="$PWD/target/release"
cargo clippy --all-targets -- -D warnings
cargo test --workspace -- --test-threads=2
