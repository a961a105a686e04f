#!/usr/bin/env bash
# RSS of slotgate-node vs redis-server holding 1M keys with 100-byte values (loaded with
# redis-cli --pipe). Target: slotgate at most 1.25x redis-server.
# Usage: bench/memory-vs-redis.sh   (env: KEYS=1000000 SIZE=100)
source "$(dirname "$0")/common.sh"
ensure_tools
KEYS=${KEYS:-1000000} SIZE=${SIZE:-100}
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
  port=$(free_port)
  if [[ $who == slotgate ]]; then start_server "$NODE_BIN" "$port" --save ""; else start_server redis-server "$port" --save "" --appendonly no; fi
  pid=${PIDS[-1]}
  redis-cli -p "$port" --pipe <"$WORK/fill.resp" >/dev/null
  [[ $(redis-cli -p "$port" dbsize) == "$KEYS" ]] || { echo "$who did not load $KEYS keys" >&2; exit 1; }
  rss[$who]=$(rss_kb "$pid")
  echo "$who: dbsize=$KEYS rss=$((rss[$who] / 1024)) MB"
done
printf 'RSS ratio slotgate/redis: %.3f (target <= 1.25)\n' "$(awk -v a="${rss[slotgate]}" -v b="${rss[redis]}" 'BEGIN{print a/b}')"
