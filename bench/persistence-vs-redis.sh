#!/usr/bin/env bash
# Persistence, slotgate-node vs Debian's redis-server 7.0 with the same settings:
#  1. SET throughput with appendonly yes at appendfsync everysec and always (redis-benchmark in
#     alternation, median of ROUNDS runs);
#  2. start-up time (spawn to first PONG, median of ROUNDS) loading the same 1M-key dump.rdb,
#     and the same 1M-command AOF (an empty base plus one incr file), both written by Redis.
# Ratios are slotgate/redis for throughput and redis/slotgate for load time (higher is better).
# Usage: bench/persistence-vs-redis.sh   (env: ROUNDS=3 N=200000 CLIENTS=50 KEYS=1000000
#        SLOTGATE_NODE_BIN=path to use an already built binary instead of building)
source "$(dirname "$0")/common.sh"
if [[ -n ${SLOTGATE_NODE_BIN:-} ]]; then NODE_BIN=$SLOTGATE_NODE_BIN; else ensure_tools; fi
ROUNDS=${ROUNDS:-3} N=${N:-200000} CLIENTS=${CLIENTS:-50} KEYS=${KEYS:-1000000}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }

echo "slotgate-node vs $(redis-server --version | cut -d' ' -f3); dir on $(df --output=fstype "$WORK" | tail -1)"
printf '%-28s %14s %14s %7s\n' "SET, appendonly yes" slotgate redis ratio
for fsync in everysec always; do
  sg=$(free_port); rd=$(free_port)
  start_server "$NODE_BIN" "$sg" --save "" --appendonly yes --appendfsync "$fsync" --auto-aof-rewrite-percentage 0
  start_server redis-server "$rd" --save "" --appendonly yes --appendfsync "$fsync" --auto-aof-rewrite-percentage 0
  s=(); r=()
  for round in $(seq 1 "$ROUNDS"); do
    s+=("$(redis-benchmark -p "$sg" -c "$CLIENTS" -n "$N" -r 100000 -t set --csv | awk -F'"' 'NR==2{print $4}')")
    r+=("$(redis-benchmark -p "$rd" -c "$CLIENTS" -n "$N" -r 100000 -t set --csv | awk -F'"' 'NR==2{print $4}')")
  done
  ms=$(printf '%s\n' "${s[@]}" | median); mr=$(printf '%s\n' "${r[@]}" | median)
  printf '%-28s %14.0f %14.0f %7s\n' "appendfsync $fsync (req/s)" "$ms" "$mr" "$(ratio "$ms" "$mr")"
  redis-cli -p "$sg" shutdown nosave >/dev/null 2>&1 || true
  redis-cli -p "$rd" shutdown nosave >/dev/null 2>&1 || true
done

# The data set: KEYS SETs of 16-byte keys and 32-byte values, written by Redis both as an RDB
# and (appendonly, no preamble rewrite) as an AOF incr file.
src=$(free_port)
start_server redis-server "$src" --save "" --appendonly yes --appendfsync no --auto-aof-rewrite-percentage 0
python3 - "$KEYS" <<'PY' | redis-cli -p "$src" --pipe >/dev/null
import sys
out = sys.stdout.buffer
for i in range(int(sys.argv[1])):
    k = b"key:%012d" % i
    v = b"value:%026d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$16\r\n" + k + b"\r\n$32\r\n" + v + b"\r\n")
PY
[[ $(redis-cli -p "$src" dbsize) == "$KEYS" ]] || { echo "the data set was not written" >&2; exit 1; }
redis-cli -p "$src" save >/dev/null
redis-cli -p "$src" shutdown nosave >/dev/null 2>&1 || true
sleep 0.5
srcdir=$WORK/$src

# ready_ms BIN DIR ARGS... : milliseconds from spawn until the server answers PING.
ready_ms() {
  local bin=$1 dir=$2; shift 2
  local port; port=$(free_port)
  local t0; t0=$(date +%s%N)
  "$bin" --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" "$@" >"$dir/log" 2>&1 &
  local pid=$!
  until redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; do
    kill -0 "$pid" 2>/dev/null || { echo "server in $dir exited" >&2; cat "$dir/log" >&2; return 1; }
    sleep 0.005
  done
  echo $(( ($(date +%s%N) - t0) / 1000000 ))
  [[ $(redis-cli -p "$port" dbsize) == "$KEYS" ]] || echo "warning: $bin loaded $(redis-cli -p "$port" dbsize) keys" >&2
  kill -9 "$pid"; wait "$pid" 2>/dev/null || true
}

printf '\n%-28s %14s %14s %7s\n' "load $KEYS keys at start" "slotgate ms" "redis ms" ratio
for kind in rdb aof; do
  s=(); r=()
  for who in sg rd; do
    d=$WORK/load-$kind-$who; mkdir -p "$d"
    if [[ $kind == rdb ]]; then cp "$srcdir/dump.rdb" "$d/"; args=(--appendonly no)
    else cp -r "$srcdir/appendonlydir" "$d/"; args=(--appendonly yes --auto-aof-rewrite-percentage 0); fi
    bin=redis-server; [[ $who == sg ]] && bin=$NODE_BIN
    for round in $(seq 1 "$ROUNDS"); do
      ms=$(ready_ms "$bin" "$d" "${args[@]}")
      if [[ $who == sg ]]; then s+=("$ms"); else r+=("$ms"); fi
    done
  done
  ms=$(printf '%s\n' "${s[@]}" | median); mr=$(printf '%s\n' "${r[@]}" | median)
  printf '%-28s %14s %14s %7s\n' "$kind ($(du -h "$WORK/load-$kind-rd" -s | cut -f1))" "$ms" "$mr" "$(ratio "$mr" "$ms")"
done
