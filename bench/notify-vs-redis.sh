#!/usr/bin/env bash
# Keyspace notifications: slotgate-node vs Debian's redis-server 7.0, both started with the same
# `notify-keyspace-events` classes and one subscriber each (redis-cli PSUBSCRIBE '__key*__:*',
# reading everything), redis-benchmark in alternation. Prints requests/s (median of ROUNDS), the
# ratio, and the CPU each server spent per request (user + system from /proc/PID/stat over the
# run, divided by the requests; the subscriber's redis-cli is not counted).
# Usage: bench/notify-vs-redis.sh   (env: ROUNDS=3 N=200000 CLIENTS=50 P=16 TESTS=set,get
#   CLASSES="KEA|" — a |-separated list of class strings; empty means notifications off,
#   SUBSCRIBERS=1). Build first: cargo build --release --bins (this script does not build).
source "$(dirname "$0")/common.sh"
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null ||
  { echo "needs redis-server and redis-benchmark (apt-get install redis-server redis-tools)" >&2; exit 1; }
[[ -x $NODE_BIN ]] || { echo "no $NODE_BIN: cargo build --release --bins first" >&2; exit 1; }
ROUNDS=${ROUNDS:-3} N=${N:-200000} CLIENTS=${CLIENTS:-50} P=${P:-16} TESTS=${TESTS:-set,get}
CLASSES=${CLASSES:-KEA|} SUBSCRIBERS=${SUBSCRIBERS:-1}
n=$N; [[ $P -gt 1 ]] && n=$((N * 5))

# measure PORT PID TEST: "ops/s cpu-us-per-request" of one redis-benchmark run.
measure() {
  local before after rps
  before=$(cpu_us "$2")
  rps=$(redis-benchmark -p "$1" -c "$CLIENTS" -n "$n" -r 100000 -P "$P" -t "$3" --csv </dev/null |
    awk -F'","' 'NR == 2 {print $2}')
  after=$(cpu_us "$2")
  echo "$rps $(awk -v a="$before" -v b="$after" -v n="$n" 'BEGIN {printf "%.3f", (b - a) / n}')"
}

echo "slotgate-node vs $(redis-server --version | cut -d' ' -f3): -c $CLIENTS -n $n -r 100000 -P $P," \
  "$SUBSCRIBERS subscriber(s) on __key*__:*, median of $ROUNDS"
printf '%-6s %-8s %12s %12s %7s %10s %12s\n' test classes slotgate redis ratio 'sg us/req' 'redis us/req'
IFS='|' read -ra class_list <<<"$CLASSES"
[[ $CLASSES == *'|' ]] && class_list+=("")
IFS=, read -ra tests <<<"$TESTS"
for classes in "${class_list[@]}"; do
  PIDS_BEFORE=${#PIDS[@]}
  sg=$(free_port); rd=$(free_port)
  # No pubsub output limit: a subscriber that falls behind is not disconnected (which would
  # leave that server nobody to publish to).
  common=(--save "" --appendonly no --client-output-buffer-limit "pubsub 0 0 0" --notify-keyspace-events "$classes")
  start_server "$NODE_BIN" "$sg" "${common[@]}"
  start_server redis-server "$rd" "${common[@]}"
  sg_pid=${PIDS[$PIDS_BEFORE]} rd_pid=${PIDS[$((PIDS_BEFORE + 1))]}
  for port in $sg $rd; do
    for _ in $(seq 1 "$SUBSCRIBERS"); do
      redis-cli -p "$port" psubscribe '__key*__:*' >/dev/null 2>&1 &
      PIDS+=($!)
    done
  done
  sleep 0.3
  for t in "${tests[@]}"; do
    declare -A r; r=()
    for round in $(seq 1 "$ROUNDS"); do
      for who in sg rd; do
        port=${!who} pid_var=${who}_pid
        read -r rps cpu < <(measure "$port" "${!pid_var}" "$t")
        r[${who}_rps]+="$rps " r[${who}_cpu]+="$cpu "
      done
    done
    med() { tr ' ' '\n' <<<"$1" | grep . | median; }
    a=$(med "${r[sg_rps]}") b=$(med "${r[rd_rps]}")
    printf '%-6s %-8s %12.0f %12.0f %7.2f %10.3f %12.3f\n' "$t" "${classes:-off}" "$a" "$b" \
      "$(awk -v a="$a" -v b="$b" 'BEGIN {print a / b}')" "$(med "${r[sg_cpu]}")" "$(med "${r[rd_cpu]}")"
  done
  # Both servers must still have their subscriber (a slow reader would be disconnected).
  for port in $sg $rd; do
    subs=$(redis-cli -p "$port" info clients | tr -d '\r' | awk -F: '/^connected_clients/ {print $2 - 1}')
    name=redis-server; [[ $port == "$sg" ]] && name=slotgate-node
    [[ $subs -ge $SUBSCRIBERS ]] || echo "warning: $name kept $subs of $SUBSCRIBERS subscribers" >&2
  done
  for p in "${PIDS[@]:$PIDS_BEFORE}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
done
