#!/usr/bin/env bash
# The fault harness's long form: every scenario of tests/tests/faults.rs (each node, and the
# proxy, on a network namespace of its own; 3 masters with a replica each; 8 clients writing
# unique keys through the proxy and reading some back), run against slotgate-node and Redis 7.0
# clusters side by side, printing per scenario: operations, writes acknowledged, client error
# replies, the longest time each shard went without an acknowledged write, acknowledged writes
# lost, unacknowledged writes present anyway, and keys whose history is not linearizable.
# Needs root (ip netns). Usage: bench/faults.sh   env: FAULTS_SECONDS=8 FAULTS_SERVERS=slotgate,redis
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins -q
export SLOTGATE_BIN_DIR=$PWD/target/release
FAULTS_SECONDS=${FAULTS_SECONDS:-8} FAULTS_SERVERS=${FAULTS_SERVERS:-slotgate,redis} \
  cargo test --release -q -p slotgate-tests --test faults -- --nocapture 2>&1 |
  grep -E '^(server|Slotgate|Redis) |bounds not met|test result'
