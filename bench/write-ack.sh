#!/usr/bin/env bash
# What --write-ack costs: slotgate-proxy in front of one cluster of 3 masters with a replica
# each, once plain and once with `--write-ack replicas=1` (a client's writes are acknowledged
# only when a replica holds them: one WAIT per node per batch), driven by the same
# redis-benchmark SET line in alternating rounds. Prints requests/s (median of ROUNDS), the
# ratio write-ack/plain and each proxy's CPU time per request (user + system from /proc).
# Usage: bench/write-ack.sh    env: ROUNDS=3 N=100000 (P=16 runs 5*N) CLIENTS=50 SERVER=node|redis
source "$(dirname "$0")/common.sh"
ensure_tools
PROXY_BIN=${PROXY_BIN:-$ROOT/target/release/slotgate-proxy}
ROUNDS=${ROUNDS:-3} N=${N:-100000} CLIENTS=${CLIENTS:-50} SERVER=${SERVER:-node}
bin=$NODE_BIN; [[ $SERVER == redis ]] && bin=$(command -v redis-server)

read -r -a nodes <<<"$(cluster_ports 6)"
for p in "${nodes[@]}"; do
  start_server "$bin" "$p" --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-node-timeout 5000 --save "" --appendonly no
done
redis-cli --cluster create $(printf '127.0.0.1:%s ' "${nodes[@]}") --cluster-replicas 1 --cluster-yes \
  >"$WORK/create.log" 2>&1 || { cat "$WORK/create.log" >&2; exit 1; }
for _ in $(seq 1 600); do
  ok=1
  for p in "${nodes[@]}"; do redis-cli -p "$p" cluster info | grep -q '^cluster_state:ok' || ok=0; done
  [[ $ok == 1 ]] && break
  sleep 0.05
done
sleep 1 # replicas finish their first sync

# (Not in a subshell: the pids must reach PIDS for the cleanup.)
plain_port=$(free_port)
"$PROXY_BIN" --listen "127.0.0.1:$plain_port" --seed "127.0.0.1:${nodes[0]}" >"$WORK/plain.log" 2>&1 &
PIDS+=($!); plain_pid=$!
ack_port=$(free_port)
"$PROXY_BIN" --listen "127.0.0.1:$ack_port" --seed "127.0.0.1:${nodes[0]}" --write-ack replicas=1,1000 >"$WORK/ack.log" 2>&1 &
PIDS+=($!); ack_pid=$!
wait_ping "$plain_port"; wait_ping "$ack_port"

run() { # port pid pipeline n -> "rps cpu_us_per_req"
  local before after out rps
  before=$(cpu_us "$2")
  out=$(redis-benchmark -p "$1" -t set -n "$4" -c "$CLIENTS" -P "$3" -r 100000 -q 2>/dev/null | tr '\r' '\n' | grep 'requests per second' | tail -1)
  after=$(cpu_us "$2")
  rps=$(awk '{print $2}' <<<"$out")
  echo "$rps $(awk -v a="$after" -v b="$before" -v n="$4" 'BEGIN {printf "%.2f", (a - b) / n}')"
}

echo "SET through slotgate-proxy over $SERVER nodes (3 masters + 3 replicas), $CLIENTS clients, $ROUNDS rounds"
printf '%-5s %14s %14s %8s %16s %16s\n' P plain/s write-ack/s ratio "plain us/req" "write-ack us/req"
for P in 1 16; do
  n=$N; [[ $P == 16 ]] && n=$((N * 5))
  : >"$WORK/p" ; : >"$WORK/a"
  for _ in $(seq 1 "$ROUNDS"); do
    run "$plain_port" "$plain_pid" "$P" "$n" >>"$WORK/p"
    run "$ack_port" "$ack_pid" "$P" "$n" >>"$WORK/a"
  done
  prps=$(awk '{print $1}' "$WORK/p" | median); arps=$(awk '{print $1}' "$WORK/a" | median)
  pcpu=$(awk '{print $2}' "$WORK/p" | median); acpu=$(awk '{print $2}' "$WORK/a" | median)
  printf '%-5s %14.0f %14.0f %8.2f %16s %16s\n' "$P" "$prps" "$arps" "$(awk -v a="$arps" -v p="$prps" 'BEGIN {print a / p}')" "$pcpu" "$acpu"
done
