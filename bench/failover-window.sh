#!/usr/bin/env bash
# Failover window: a 3x1 slotgate cluster and a 3x1 Redis 7.0 cluster in the same run, at
# cluster-node-timeout 5000 and 1000. SIGSTOP the master of one slot and measure the seconds
# until a write to that slot succeeds again (redis-cli -c follows MOVED, each try bounded to
# 0.5 s). Then SET throughput of each cluster with its replicas attached (redis-benchmark
# --cluster), and the ratios.
# Usage: bench/failover-window.sh   (env: TIMEOUTS="5000 1000" N=200000)
source "$(dirname "$0")/common.sh"
ensure_tools
TIMEOUTS=${TIMEOUTS:-5000 1000} N=${N:-200000}

# start_3x1 BIN TIMEOUT PORT... : six nodes, three masters with a replica each, all in sync.
start_3x1() {
  local bin=$1 timeout=$2; shift 2
  local p
  for p in "$@"; do
    start_server "$bin" "$p" --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout "$timeout" --save "" --appendonly no
  done
  redis-cli --cluster create $(printf '127.0.0.1:%s ' "$@") --cluster-replicas 1 --cluster-yes >"$WORK/create-$1.log" 2>&1 ||
    { cat "$WORK/create-$1.log" >&2; return 1; }
  local i ok
  for i in $(seq 1 600); do
    ok=1
    for p in "$@"; do
      redis-cli -p "$p" cluster info | grep -q '^cluster_state:ok' || { ok=0; break; }
      redis-cli -p "$p" info replication | grep -qE '^role:master|master_link_status:up' || { ok=0; break; }
    done
    [[ $ok == 1 ]] && break
    sleep 0.1
  done
  [[ $ok == 1 ]] || { echo "cluster on $* not ready" >&2; return 1; }
}

# window PORTS... : freezes the master of {fw}'s slot, prints the seconds until a write succeeds.
window() {
  local via=$1 owner pid t0 t1
  owner=$(redis-cli -p "$via" cluster nodes | awk -v s="$(redis-cli -p "$via" cluster keyslot '{fw}')" '
    $3 ~ /master/ { for (i = 9; i <= NF; i++) { split($i, r, "-"); if (r[2] == "") r[2] = r[1]; if (s >= r[1] && s <= r[2]) { split($2, a, "[:@]"); print a[2] } } }')
  pid=$(redis-cli -p "$owner" info server | tr -d '\r' | awk -F: '/^process_id:/ {print $2}')
  local other
  for other in "$@"; do [[ $other != "$owner" ]] && break; done
  redis-cli -c -p "$other" set '{fw}k' before >/dev/null
  kill -STOP "$pid"
  t0=$(date +%s%N)
  for _ in $(seq 1 600); do
    [[ $(timeout 0.5 redis-cli -c -p "$other" set '{fw}k' after 2>/dev/null) == OK ]] && break
    sleep 0.05
  done
  t1=$(date +%s%N)
  kill -CONT "$pid"
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'
}

echo "3x1 slotgate vs 3x1 $(redis-server --version | cut -d' ' -f3), SIGSTOP one master, seconds until a write to its slot succeeds"
printf '%-14s %10s %10s %6s\n' node-timeout slotgate redis ratio
for t in $TIMEOUTS; do
  read -r -a ports <<<"$(cluster_ports 12)"
  sg=("${ports[@]:0:6}") rd=("${ports[@]:6:6}")
  start_3x1 "$NODE_BIN" "$t" "${sg[@]}"
  start_3x1 redis-server "$t" "${rd[@]}"
  a=$(window "${sg[@]}")
  b=$(window "${rd[@]}")
  printf '%-14s %10s %10s %6.2f\n' "$t" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN{print a/b}')"
  if [[ $t == "${TIMEOUTS%% *}" ]]; then
    # Throughput with replicas attached (the first run's clusters, after their failover).
    sleep 2
    x=$(redis-benchmark --cluster -p "${sg[1]}" -c 50 -n "$N" -r 100000 -t set --csv | grep '^"SET' | cut -d, -f2 | tr -d '"')
    y=$(redis-benchmark --cluster -p "${rd[1]}" -c 50 -n "$N" -r 100000 -t set --csv | grep '^"SET' | cut -d, -f2 | tr -d '"')
    thr="SET with 1 replica per master (redis-benchmark --cluster -c 50 -n $N): slotgate $x rps, redis $y rps, ratio $(awk -v a="$x" -v b="$y" 'BEGIN{printf "%.2f", a/b}')"
  fi
  for p in "${sg[@]}" "${rd[@]}"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
done
echo "$thr"
