#!/usr/bin/env bash
# Memory of slotgate-node vs redis-server, each loaded with redis-cli --pipe:
# - keys: RSS holding 1M keys with 100-byte values. Target: slotgate at most 1.25x redis-server.
# - stream: used_memory (INFO memory) holding one stream of 1M entries with 3 short fields
#   each (pipelined XADD with automatic ids).
# Usage: bench/memory-vs-redis.sh   (env: KEYS=1000000 SIZE=100 ENTRIES=1000000 PARTS=keys,stream)
#   REDIS_ONLY=1 runs redis-server on both sides (no build), e.g. to try the script:
#   REDIS_ONLY=1 PARTS=stream ENTRIES=100000 bench/memory-vs-redis.sh
source "$(dirname "$0")/common.sh"
ensure_tools
KEYS=${KEYS:-1000000} SIZE=${SIZE:-100} ENTRIES=${ENTRIES:-1000000} PARTS=${PARTS:-keys,stream}

# start WHO: a fresh server for one side; sets port and pid.
start() {
  port=$(free_port)
  if [[ $1 == slotgate ]]; then start_server "$NODE_BIN" "$port" --save ""; else start_server redis-server "$port" --save "" --appendonly no; fi
  pid=${PIDS[-1]}
}

used_memory() { redis-cli -p "$1" info memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r'; }

if [[ ,$PARTS, == *,keys,* ]]; then
  python3 - "$KEYS" "$SIZE" >"$WORK/fill.resp" <<'PY'
import sys
n, size = int(sys.argv[1]), int(sys.argv[2])
v = 'x' * size
w = sys.stdout.write
for i in range(n):
    k = 'key:%d' % i
    w('*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n' % (len(k), k, size, v))
PY
  declare -A rss
  for who in slotgate redis; do
    start "$who"
    redis-cli -p "$port" --pipe <"$WORK/fill.resp" >/dev/null
    [[ $(redis-cli -p "$port" dbsize) == "$KEYS" ]] || { echo "$who did not load $KEYS keys" >&2; exit 1; }
    rss[$who]=$(rss_kb "$pid")
    echo "$who: dbsize=$KEYS rss=$((rss[$who] / 1024)) MB"
  done
  printf 'RSS ratio slotgate/redis: %.3f (target <= 1.25)\n' "$(awk -v a="${rss[slotgate]}" -v b="${rss[redis]}" 'BEGIN{print a/b}')"
fi

if [[ ,$PARTS, == *,stream,* ]]; then
  # Three short fields, the same names in every entry (as event streams have them).
  python3 - "$ENTRIES" >"$WORK/stream.resp" <<'PY'
import sys
w = sys.stdout.write
actions = ('view', 'click', 'buy')
for i in range(int(sys.argv[1])):
    vals = ('u%d' % (i % 10000), actions[i % 3], str(i % 1000))
    w('*9\r\n$4\r\nXADD\r\n$12\r\nbench:stream\r\n$1\r\n*\r\n')
    for f, v in zip(('user', 'action', 'n'), vals):
        w('$%d\r\n%s\r\n$%d\r\n%s\r\n' % (len(f), f, len(v), v))
PY
  declare -A used
  for who in slotgate redis; do
    start "$who"
    before=$(used_memory "$port")
    redis-cli -p "$port" --pipe <"$WORK/stream.resp" >"$WORK/stream-$who.log" 2>&1
    grep -q 'errors: 0,' "$WORK/stream-$who.log" || { echo "$who: loading the stream failed" >&2; cat "$WORK/stream-$who.log" >&2; exit 1; }
    [[ $(redis-cli -p "$port" xlen bench:stream) == "$ENTRIES" ]] || { echo "$who did not load $ENTRIES entries" >&2; exit 1; }
    used[$who]=$(used_memory "$port")
    echo "$who: stream of $ENTRIES entries, used_memory=$((used[$who] / 1024)) KB (empty: $((before / 1024)) KB), rss=$(( $(rss_kb "$pid") / 1024)) MB"
  done
  printf 'used_memory ratio slotgate/redis (stream): %.3f\n' "$(awk -v a="${used[slotgate]}" -v b="${used[redis]}" 'BEGIN{print a/b}')"
fi
