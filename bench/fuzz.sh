#!/usr/bin/env bash
# The long form of fuzzing. Runs every target of slotgate-fuzz for SECONDS_PER_TARGET seconds,
# built with the `fuzz` profile (release speed, overflow checks on), then the randomized tests of
# the cluster bus decoder and the proxy's planning with ITERATIONS inputs each. A crash's input
# is written to fuzz/crashes/<target>/; once fixed, move it to fuzz/regressions/<target>/.
# The bounded CI form is `cargo test -p slotgate-fuzz`.
# Usage: bench/fuzz.sh
#   env: SECONDS_PER_TARGET=300 SEED= (default: from the clock, printed) ITERATIONS=2000000
#        TARGETS="resp command inline redis_conf acl rdb"
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-300} SEED=${SEED:-} ITERATIONS=${ITERATIONS:-2000000}
TARGETS=${TARGETS:-resp command inline redis_conf acl rdb}

cargo build -q --profile fuzz -p slotgate-fuzz
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/fuzz/slotgate-fuzz
failed=()
for t in $TARGETS; do
  "$BIN" "$t" --seconds "$SECONDS_PER_TARGET" ${SEED:+--seed "$SEED"} || failed+=("$t")
done
export SLOTGATE_FUZZ_ITERATIONS=$ITERATIONS
cargo test -q --profile fuzz -p slotgate-node --bin slotgate-node wire::tests::mutated_messages_never_panic || failed+=(bus)
cargo test -q --profile fuzz -p slotgate-proxy --bin slotgate-proxy random_requests_plan_without_panicking || failed+=(plan)
if ((${#failed[@]})); then
  echo "fuzz: crashes in ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: no crash in $TARGETS bus plan"
