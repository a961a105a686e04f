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
# CPU per request: user + system time of the proxy process over each proxy run (from /proc),
# divided by the requests of the run ("prx us/req").
# Cross-slot commands (CROSS=1): SUNION of two 100-member sets on different masters and RENAME
# across slots through the proxy, against one standalone redis-server running the same commands.
# Usage: bench/proxy-vs-direct.sh
#   env: ROUNDS=3 N=400000 (P=1; P=16 runs 10*N; MSET a quarter of those) CLIENTS=50
#        TESTS=set,get,mset IDLE=1000 TWEMPROXY=1 (0: no yardstick) CROSS=1 BASELINE=
source "$(dirname "$0")/common.sh"
ensure_tools
PROXY_BIN=${PROXY_BIN:-$ROOT/target/release/slotgate-proxy}
# BASELINE=path/to/an/older/slotgate-proxy runs it too, in the same rounds, for an A/B of a change.
BASELINE=${BASELINE:-}
ROUNDS=${ROUNDS:-3} N=${N:-400000} CLIENTS=${CLIENTS:-50} TESTS=${TESTS:-set,get,mset} IDLE=${IDLE:-1000}
TWEMPROXY=${TWEMPROXY:-1} CROSS=${CROSS:-1}

read -r -a nodes <<<"$(cluster_ports 3)"
start_cluster redis-server "${nodes[@]}"

pp=$(free_port)
"$PROXY_BIN" --listen "127.0.0.1:$pp" --seed "127.0.0.1:${nodes[0]}" >"$WORK/proxy.log" 2>&1 &
PIDS+=($!); proxy_pid=$!
wait_ping "$pp"
if [[ -n $BASELINE ]]; then
  bp=$(free_port)
  "$BASELINE" --listen "127.0.0.1:$bp" --seed "127.0.0.1:${nodes[0]}" >"$WORK/baseline.log" 2>&1 &
  PIDS+=($!); baseline_pid=$!
  wait_ping "$bp"
fi
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
printf '%-16s %3s %11s %11s %6s %8s %8s %8s %8s %11s %6s %10s\n' test P 'proxy rps' 'direct rps' ratio \
  'prx p50' 'dir p50' 'prx p99' 'dir p99' 'twem rps' 'twem' 'prx us/req'
med() { tr ' ' '\n' <<<"$1" | grep . | median; }
for P in 1 16; do
  for test in ${TESTS//,/ }; do
    n=$N; [[ $P == 16 ]] && n=$((N * 10)); [[ $test == mset ]] && n=$((n / 4))
    who_list=(proxy direct); [[ $TWEMPROXY == 1 ]] && who_list+=(twemproxy); [[ -n $BASELINE ]] && who_list+=(baseline)
    declare -A rps p50 p99; rps=(); p50=(); p99=(); cpu=""; bcpu=""
    for round in $(seq 1 "$ROUNDS"); do
      for who in "${who_list[@]}"; do
        case $who in
          proxy) target=(-p "$pp") ;;
          direct) target=(--cluster -p "${nodes[0]}") ;;
          twemproxy) target=(-p "$tp") ;;
          baseline) target=(-p "$bp") ;;
        esac
        before=$(cpu_us "$proxy_pid"); [[ -n $BASELINE ]] && bbefore=$(cpu_us "$baseline_pid")
        # CSV (7.0): test,rps,avg,min,p50,p95,p99,max
        IFS=, read -r name r _avg _min l50 _l95 l99 _max < <(
          redis-benchmark "${target[@]}" -c "$CLIENTS" -n "$n" -r 100000 -P "$P" -t "$test" --csv 2> >(grep -v 'Could not fetch server CONFIG' >&2) |
            grep '^"' | grep -v '^"test"')
        title=${name//\"/}
        [[ $who == proxy ]] && cpu+="$(awk -v a="$before" -v b="$(cpu_us "$proxy_pid")" -v n="$n" 'BEGIN{print (b-a)/n}') "
        [[ $who == baseline ]] && bcpu+="$(awk -v a="$bbefore" -v b="$(cpu_us "$baseline_pid")" -v n="$n" 'BEGIN{print (b-a)/n}') "
        rps[$who]+="${r//\"/} "; p50[$who]+="${l50//\"/} "; p99[$who]+="${l99//\"/} "
      done
    done
    a=$(med "${rps[proxy]}"); b=$(med "${rps[direct]}")
    tw=-; twr=-
    if [[ $TWEMPROXY == 1 ]]; then
      tw=$(printf '%.0f' "$(med "${rps[twemproxy]}")"); twr=$(awk -v a="$tw" -v b="$b" 'BEGIN{printf "%.2f", a/b}')
    fi
    printf '%-16s %3s %11.0f %11.0f %6.2f %8.3f %8.3f %8.3f %8.3f %11s %6s %10.2f\n' "$title" "$P" "$a" "$b" \
      "$(awk -v a="$a" -v b="$b" 'BEGIN{print a/b}')" \
      "$(med "${p50[proxy]}")" "$(med "${p50[direct]}")" "$(med "${p99[proxy]}")" "$(med "${p99[direct]}")" "$tw" "$twr" \
      "$(med "$cpu")"
    [[ -n $BASELINE ]] && printf '%-16s %3s %11.0f %11s %6.2f %50s %10.2f   (baseline binary)\n' "$title" "$P" \
      "$(med "${rps[baseline]}")" '' "$(awk -v a="$(med "${rps[baseline]}")" -v b="$b" 'BEGIN{print a/b}')" '' "$(med "$bcpu")"
  done
done
echo "latencies in ms"

if [[ $CROSS == 1 ]]; then
  one=$(free_port); start_server redis-server "$one" --save "" --appendonly no
  # Keys on different masters: slots in the first and the last third.
  keys=$(python3 - <<'PY'
def slot(k):
    # CRC16/XMODEM, as Redis Cluster hashes keys.
    crc = 0
    for b in k.encode():
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xffff
    return crc % 16384
low = lambda p: next(f"{p}{i}" for i in range(10**6) if slot(f"{p}{i}") < 5000)
high = lambda p: next(f"{p}{i}" for i in range(10**6) if slot(f"{p}{i}") > 11000)
print(low("sa"), high("sb"), low("ra"), high("rb"))
PY
)
  read -r ka kb ra rb <<<"$keys"
  for port in "$pp" "$one"; do
    redis-cli -p "$port" del "$ka" "$kb" >/dev/null
    redis-cli -p "$port" sadd "$ka" $(seq 1 100) >/dev/null
    redis-cli -p "$port" sadd "$kb" $(seq 51 150) >/dev/null
    redis-cli -p "$port" del "$ra" "$rb" >/dev/null
    redis-cli -p "$port" set "$ra" v >/dev/null
  done
  # RENAME back and forth on one connection: each request moves the value across slots.
  cat >"$WORK/rename.py" <<'PY'
import socket, sys, time
port, a, b, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
s = socket.create_connection(("127.0.0.1", port))
def cmd(*w):
    return b"".join([b"*%d\r\n" % len(w)] + [b"$%d\r\n%s\r\n" % (len(x), x.encode()) for x in w])
moves = [cmd("RENAME", a, b), cmd("RENAME", b, a)]
start = time.perf_counter()
for i in range(n):
    s.sendall(moves[i % 2])
    reply = s.recv(64)
    assert reply == b"+OK\r\n", reply
print(n / (time.perf_counter() - start))
PY
  cross_n=$((N / 20))
  printf '\n%-26s %11s %11s %6s %10s\n' 'across slots (P=1, 1 conn)' 'proxy rps' 'redis rps' ratio 'prx us/req'
  for test in sunion rename; do
    declare -A crps; crps=(); ccpu=""
    for round in $(seq 1 "$ROUNDS"); do
      for port in "$pp" "$one"; do
        before=$(cpu_us "$proxy_pid")
        if [[ $test == sunion ]]; then
          r=$(redis-benchmark -p "$port" -c 1 -n "$cross_n" --csv SUNION "$ka" "$kb" 2>/dev/null | grep '^"' | grep -v '^"test"' | cut -d, -f2 | tr -d '"')
        else
          r=$(python3 "$WORK/rename.py" "$port" "$ra" "$rb" "$cross_n")
        fi
        crps[$port]+="$r "
        [[ $port == "$pp" ]] && ccpu+="$(awk -v a="$before" -v b="$(cpu_us "$proxy_pid")" -v n="$cross_n" 'BEGIN{print (b-a)/n}') "
      done
    done
    a=$(med "${crps[$pp]}"); b=$(med "${crps[$one]}")
    printf '%-26s %11.0f %11.0f %6.2f %10.2f\n' "$test" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN{print a/b}')" "$(med "$ccpu")"
  done
fi
printf 'proxy RSS: %.1f MB idle, %.1f MB with %d idle client connections (%.1f KB each)\n' \
  "$(awk -v k="$rss_idle" 'BEGIN{print k/1024}')" "$(awk -v k="$rss_held" 'BEGIN{print k/1024}')" "$IDLE" \
  "$(awk -v a="$rss_held" -v b="$rss_idle" -v n="$IDLE" 'BEGIN{print (a-b)/n}')"
echo "proxy RSS after the benchmark: $(($(rss_kb "$proxy_pid") / 1024)) MB"
