#!/usr/bin/env bash
# Starts a slotgate node on a fresh machine: builds the release binary and runs it in the
# foreground on port 6379 (or $PORT), data in ./data. Ctrl-C stops it.
# The cluster and the proxy in front of it join this command as they land.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins
mkdir -p data
port=${PORT:-6379}
echo "slotgate-node on 127.0.0.1:$port — connect with: redis-cli -p $port"
exec ./target/release/slotgate-node --port "$port" --bind 127.0.0.1 --dir ./data "$@"
