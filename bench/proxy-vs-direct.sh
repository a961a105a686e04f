#!/usr/bin/env bash
# slotgate-proxy in front of a 3-master Redis 7.0 Cluster vs the same cluster driven directly by
# redis-benchmark --cluster, in alternation. Prints requests/s per test and pipeline depth for
# both (median of ROUNDS runs), the ratio proxy/direct and p50/p99 latency; then the proxy's RSS
# idle and holding IDLE idle client connections.
# Keys are spread with -r: through the proxy each MSET's 10 keys land in up to 10 slots and are
# split per slot; redis-benchmark --cluster hash-tags them into one slot, so the direct MSET
# is a single-node command.
# Usage: bench/proxy-vs-direct.sh   (env: ROUNDS=3 N=100000 CLIENTS=50 TESTS=set,get,mset IDLE=1000)
source "$(dirname "$0")/common.sh"
ensure_tools
PROXY_BIN=$ROOT/target/release/slotgate-proxy
ROUNDS=${ROUNDS:-3} N=${N:-100000} CLIENTS=${CLIENTS:-50} TESTS=${TESTS:-set,get,mset} IDLE=${IDLE:-1000}

read -r -a nodes <<<"$(cluster_ports 3)"
start_cluster redis-server "${nodes[@]}"

pp=$(free_port)
"$PROXY_BIN" --listen "127.0.0.1:$pp" --seed "127.0.0.1:${nodes[0]}" >"$WORK/proxy.log" 2>&1 &
PIDS+=($!); proxy_pid=$!
wait_ping "$pp"
[[ $(redis-cli -p "$pp" set bench:probe 1) == OK ]] || { echo "the proxy does not serve the cluster" >&2; exit 1; }
redis-cli -p "$pp" del bench:probe >/dev/null

# Proxy memory: idle, then holding IDLE client connections that each sent one PING.
cat >"$WORK/idle.py" <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
for s in socks:
    s.sendall(b"PING\r\n")
for s in socks:
    assert s.recv(16).startswith(b"+PONG")
print("ready", flush=True)
time.sleep(600)
PY
rss_idle=$(rss_kb "$proxy_pid")
: >"$WORK/idle.out"
python3 "$WORK/idle.py" "$pp" "$IDLE" >"$WORK/idle.out" 2>&1 &
PIDS+=($!); idle_pid=$!
for _ in $(seq 1 600); do grep -q ready "$WORK/idle.out" && break; kill -0 "$idle_pid" 2>/dev/null || break; sleep 0.05; done
grep -q ready "$WORK/idle.out" || { echo "could not open $IDLE connections: $(cat "$WORK/idle.out")" >&2; exit 1; }
rss_held=$(rss_kb "$proxy_pid")
kill "$idle_pid"; wait "$idle_pid" 2>/dev/null || true

echo "3-master $(redis-server --version | cut -d' ' -f3) cluster :${nodes[*]}; slotgate-proxy :$pp"
echo "redis-benchmark -c $CLIENTS -r 100000 -n N (P=1: N=$N, P=16: N=$((N * 5))), median of $ROUNDS, proxy and direct alternating"
printf '%-16s %3s %12s %12s %6s %9s %9s %9s %9s\n' test P 'proxy rps' 'direct rps' ratio \
  'prx p50' 'dir p50' 'prx p99' 'dir p99'
for P in 1 16; do
  n=$N; [[ $P == 16 ]] && n=$((N * 5))
  declare -A rps p50 p99; rps=(); p50=(); p99=()
  for round in $(seq 1 "$ROUNDS"); do
    for who in proxy direct; do
      if [[ $who == proxy ]]; then target=(-p "$pp"); else target=(--cluster -p "${nodes[0]}"); fi
      # CSV (7.0): test,rps,avg,min,p50,p95,p99,max
      while IFS=, read -r name r _avg _min l50 _l95 l99 _max; do
        name=${name//\"/}
        key="$who|$name"
        rps[$key]+="${r//\"/} "; p50[$key]+="${l50//\"/} "; p99[$key]+="${l99//\"/} "
      done < <(redis-benchmark "${target[@]}" -c "$CLIENTS" -n "$n" -r 100000 -P "$P" -t "$TESTS" --csv |
                 grep '^"' | grep -v '^"test"')
    done
  done
  for key in "${!rps[@]}"; do
    [[ $key == proxy\|* ]] || continue
    name=${key#proxy|}
    med() { tr ' ' '\n' <<<"$1" | grep . | median; }
    a=$(med "${rps[proxy|$name]}"); b=$(med "${rps[direct|$name]}")
    printf '%-16s %3s %12.0f %12.0f %6.2f %9.3f %9.3f %9.3f %9.3f\n' "$name" "$P" "$a" "$b" \
      "$(awk -v a="$a" -v b="$b" 'BEGIN{print a/b}')" \
      "$(med "${p50[proxy|$name]}")" "$(med "${p50[direct|$name]}")" \
      "$(med "${p99[proxy|$name]}")" "$(med "${p99[direct|$name]}")"
  done | sort
done
echo "latencies in ms"
printf 'proxy RSS: %.1f MB idle, %.1f MB with %d idle client connections (%.1f KB each)\n' \
  "$(awk -v k="$rss_idle" 'BEGIN{print k/1024}')" "$(awk -v k="$rss_held" 'BEGIN{print k/1024}')" "$IDLE" \
  "$(awk -v a="$rss_held" -v b="$rss_idle" -v n="$IDLE" 'BEGIN{print (a-b)/n}')"
echo "proxy RSS after the benchmark: $(($(rss_kb "$proxy_pid") / 1024)) MB"
