#!/usr/bin/env bash
# Starts slotgate on a fresh machine: builds the release binaries, starts a slotgate-node cluster
# of 3 masters with one replica each on 127.0.0.1:7000-7005 (AOF, data and nodes.conf under
# ./data/<port>), joins it with `redis-cli --cluster create` (first start only; later starts reuse
# nodes.conf), and runs slotgate-proxy in front of it on 127.0.0.1:6379 with its status page and
# metrics on http://127.0.0.1:8080/. Ctrl-C stops everything.
# Env: MASTERS=3 REPLICAS=1 BASE_PORT=7000 PROXY_PORT=6379 ADMIN_PORT=8080 NODE_TIMEOUT=5000
set -euo pipefail
cd "$(dirname "$0")/.."
masters=${MASTERS:-3} replicas=${REPLICAS:-1} base=${BASE_PORT:-7000} proxy_port=${PROXY_PORT:-6379} timeout=${NODE_TIMEOUT:-5000}
admin_port=${ADMIN_PORT:-8080}
command -v redis-cli >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-tools >/dev/null; }
cargo build --release --bins
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT INT TERM
ports=()
for ((i = 0; i < masters * (1 + replicas); i++)); do
  p=$((base + i)); ports+=("$p"); mkdir -p "data/$p"
  ./target/release/slotgate-node --port "$p" --bind 127.0.0.1 --dir "data/$p" --logfile node.log \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout "$timeout" --appendonly yes &
  pids+=($!)
done
for p in "${ports[@]}"; do
  for _ in $(seq 1 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
done
if redis-cli -p "$base" cluster info | grep -q '^cluster_slots_assigned:0'; then
  redis-cli --cluster create $(printf '127.0.0.1:%s ' "${ports[@]}") --cluster-replicas "$replicas" --cluster-yes
fi
for _ in $(seq 1 200); do redis-cli -p "$base" cluster info | grep -q '^cluster_state:ok' && break; sleep 0.1; done
./target/release/slotgate-proxy --listen "127.0.0.1:$proxy_port" --seed "127.0.0.1:$base" \
  --admin-listen "127.0.0.1:$admin_port" &
proxy_pid=$!
pids+=($proxy_pid)
echo "slotgate: cluster on ${ports[*]}, proxy on 127.0.0.1:$proxy_port — connect with: redis-cli -p $proxy_port"
echo "slotgate: status page http://127.0.0.1:$admin_port/ (model at /cluster, Prometheus metrics at /metrics)"
echo "slotgate: operate it with ./target/release/slotgate health -s 127.0.0.1:$base (see README, Operating a cluster)"
# Runs until Ctrl-C or the proxy stops; a node that dies (kill -9 one to watch a failover on
# the status page) leaves the rest running.
wait "$proxy_pid"
