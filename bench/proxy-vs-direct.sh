#!/usr/bin/env bash
# slotgate-proxy in front of a 3-master Redis 7.0 Cluster vs the same cluster driven directly by
# redis-benchmark --cluster, in alternation. Prints requests/s per test and pipeline depth for
# both (median of ROUNDS runs), the ratio proxy/direct and p50/p99 latency; then the proxy's RSS
# idle and holding IDLE idle client connections.
# Keys are spread with -r: through the proxy each MSET's 10 keys land in up to 10 slots and are
# split per slot; redis-benchmark --cluster hash-tags them into one slot, so the direct MSET
# is a single-node command.
# Yardstick: twemproxy (Debian's nutcracker, a mature single-threaded C proxy) in front of three
# standalone redis-servers, driven by the same redis-benchmark line as the proxy, and its ratio
# to the same direct run. It shows what an extra hop costs on this machine, whoever makes it.
# Run length: --cluster makes redis-benchmark multi-threaded (one thread per master), and a
# threaded run only notices it is done on its 250 ms timer, so its elapsed time is rounded up to
# the next 250 ms. Runs are sized to last seconds (N per test below) so that rounding stays small.
# Usage: bench/proxy-vs-direct.sh
#   env: ROUNDS=3 N=400000 (P=1; P=16 runs 10*N; MSET a quarter of those) CLIENTS=50
#        TESTS=set,get,mset IDLE=1000 TWEMPROXY=1 (0: no yardstick)
source "$(dirname "$0")/common.sh"
ensure_tools
PROXY_BIN=$ROOT/target/release/slotgate-proxy
ROUNDS=${ROUNDS:-3} N=${N:-400000} CLIENTS=${CLIENTS:-50} TESTS=${TESTS:-set,get,mset} IDLE=${IDLE:-1000}
TWEMPROXY=${TWEMPROXY:-1}

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

if [[ $TWEMPROXY == 1 ]]; then
  command -v nutcracker >/dev/null || { apt-get update -qq && apt-get install -y -qq nutcracker >/dev/null; }
  standalone=()
  for _ in 1 2 3; do q=$(free_port); start_server redis-server "$q" --save "" --appendonly no; standalone+=("$q"); done
  tp=$(free_port)
  {
    echo "bench:"
    echo "  listen: 127.0.0.1:$tp"
    echo "  hash: fnv1a_64"
    echo "  distribution: ketama"
    echo "  redis: true"
    echo "  server_connections: 1"
    echo "  servers:"
    for q in "${standalone[@]}"; do echo "   - 127.0.0.1:$q:1"; done
  } >"$WORK/twemproxy.yml"
  nutcracker -c "$WORK/twemproxy.yml" -s "$(free_port)" -o "$WORK/twemproxy.log" &
  PIDS+=($!)
  wait_ping "$tp"
fi

echo "3-master $(redis-server --version | cut -d' ' -f3) cluster :${nodes[*]}; slotgate-proxy :$pp"
[[ $TWEMPROXY == 1 ]] && echo "yardstick: $(nutcracker --version 2>&1 | head -1) :$tp over standalone redis-servers :${standalone[*]}"
echo "redis-benchmark -c $CLIENTS -r 100000 -n N (P=1: N=$N, P=16: N=$((N * 10)); MSET a quarter), median of $ROUNDS, alternating"
printf '%-16s %3s %11s %11s %6s %8s %8s %8s %8s %11s %6s\n' test P 'proxy rps' 'direct rps' ratio \
  'prx p50' 'dir p50' 'prx p99' 'dir p99' 'twem rps' 'twem'
med() { tr ' ' '\n' <<<"$1" | grep . | median; }
for P in 1 16; do
  for test in ${TESTS//,/ }; do
    n=$N; [[ $P == 16 ]] && n=$((N * 10)); [[ $test == mset ]] && n=$((n / 4))
    who_list=(proxy direct); [[ $TWEMPROXY == 1 ]] && who_list+=(twemproxy)
    declare -A rps p50 p99; rps=(); p50=(); p99=()
    for round in $(seq 1 "$ROUNDS"); do
      for who in "${who_list[@]}"; do
        case $who in
          proxy) target=(-p "$pp") ;;
          direct) target=(--cluster -p "${nodes[0]}") ;;
          twemproxy) target=(-p "$tp") ;;
        esac
        # CSV (7.0): test,rps,avg,min,p50,p95,p99,max
        IFS=, read -r name r _avg _min l50 _l95 l99 _max < <(
          redis-benchmark "${target[@]}" -c "$CLIENTS" -n "$n" -r 100000 -P "$P" -t "$test" --csv 2> >(grep -v 'Could not fetch server CONFIG' >&2) |
            grep '^"' | grep -v '^"test"')
        title=${name//\"/}
        rps[$who]+="${r//\"/} "; p50[$who]+="${l50//\"/} "; p99[$who]+="${l99//\"/} "
      done
    done
    a=$(med "${rps[proxy]}"); b=$(med "${rps[direct]}")
    tw=-; twr=-
    if [[ $TWEMPROXY == 1 ]]; then
      tw=$(printf '%.0f' "$(med "${rps[twemproxy]}")"); twr=$(awk -v a="$tw" -v b="$b" 'BEGIN{printf "%.2f", a/b}')
    fi
    printf '%-16s %3s %11.0f %11.0f %6.2f %8.3f %8.3f %8.3f %8.3f %11s %6s\n' "$title" "$P" "$a" "$b" \
      "$(awk -v a="$a" -v b="$b" 'BEGIN{print a/b}')" \
      "$(med "${p50[proxy]}")" "$(med "${p50[direct]}")" "$(med "${p99[proxy]}")" "$(med "${p99[direct]}")" "$tw" "$twr"
  done
done
echo "latencies in ms"
printf 'proxy RSS: %.1f MB idle, %.1f MB with %d idle client connections (%.1f KB each)\n' \
  "$(awk -v k="$rss_idle" 'BEGIN{print k/1024}')" "$(awk -v k="$rss_held" 'BEGIN{print k/1024}')" "$IDLE" \
  "$(awk -v a="$rss_held" -v b="$rss_idle" -v n="$IDLE" 'BEGIN{print (a-b)/n}')"
echo "proxy RSS after the benchmark: $(($(rss_kb "$proxy_pid") / 1024)) MB"
