#!/usr/bin/env bash
# slotgate-node vs Debian's redis-server 7.0, same settings, redis-benchmark in alternation.
# Prints requests/s per test and pipeline depth (median of ROUNDS runs each) and the ratio.
# Also the data-model tests and the guide's rate-limit script through EVAL.
# A second table covers streams, HyperLogLog, bitmaps, geo and functions, one redis-benchmark
# run per test, with the CPU each server spent per request (user + system from /proc/PID/stat
# over the run, divided by the requests).
# Usage: bench/node-vs-redis.sh   (env: ROUNDS=3 N=200000 CLIENTS=50 TESTS=... EXTRA=...)
#   TESTS=none or EXTRA=none skips a table; EXTRA takes a comma list of
#   xadd,xrange,xreadgroup,pfadd,pfcount,setbit,bitcount,geoadd,geosearch,fcall
#   (xreadgroup also measures XACK of the entries it delivered).
#   REDIS_ONLY=1 runs redis-server on both sides (no build), e.g. to try the script:
#   REDIS_ONLY=1 ROUNDS=1 N=20000 TESTS=none bench/node-vs-redis.sh
source "$(dirname "$0")/common.sh"
ensure_tools
ROUNDS=${ROUNDS:-3} N=${N:-200000} CLIENTS=${CLIENTS:-50} TESTS=${TESTS:-set,get,incr,mset,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100}
EXTRA=${EXTRA:-xadd,xrange,xreadgroup,pfadd,pfcount,setbit,bitcount,geoadd,geosearch,fcall}
RATE_LIMIT="local c = tonumber(redis.call('GET', KEYS[1]) or '0') if c + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return c end return redis.call('INCRBY', KEYS[1], ARGV[1])"
sg=$(free_port); rd=$(free_port)
start_server "$NODE_BIN" "$sg" --save "" --appendonly no
start_server redis-server "$rd" --save "" --appendonly no
echo "slotgate-node :$sg  vs  $(redis-server --version | cut -d' ' -f3) :$rd   (-c $CLIENTS -n N -r 100000, median of $ROUNDS)"
[[ $TESTS != none ]] && printf '%-16s %4s %14s %14s %7s\n' test P slotgate redis ratio
for P in 1 16; do
  [[ $TESTS == none ]] && break
  n=$N; [[ $P == 16 ]] && n=$((N * 5))
  declare -A s r; s=(); r=()
  for round in $(seq 1 "$ROUNDS"); do
    for who in sg rd; do
      port=${!who}
      while IFS=, read -r name rps _; do
        name=${name//\"/}; rps=${rps//\"/}
        [[ $name == test ]] && continue
        if [[ $who == sg ]]; then s[$name]+="$rps "; else r[$name]+="$rps "; fi
      done < <(redis-benchmark -p "$port" -c "$CLIENTS" -n "$n" -r 100000 -P "$P" -t "$TESTS" --csv;
               redis-benchmark -p "$port" -c "$CLIENTS" -n "$n" -r 100000 -P "$P" --csv \
                 EVAL "$RATE_LIMIT" 1 rate_limit:user:__rand_int__ 1 100 | sed 's/^"EVAL[^"]*"/"EVAL rate-limit"/')
    done
  done
  for name in "${!s[@]}"; do
    ms=$(tr ' ' '\n' <<<"${s[$name]}" | grep . | median); mr=$(tr ' ' '\n' <<<"${r[$name]}" | grep . | median)
    printf '%-16s %4s %14.0f %14.0f %7.2f\n' "$name" "$P" "$ms" "$mr" "$(awk -v a="$ms" -v b="$mr" 'BEGIN{print a/b}')"
  done | sort
done

# ---- Streams, HyperLogLog, bitmaps, geo and functions: one redis-benchmark run per test ----
[[ $EXTRA == none ]] && exit 0
sg_pid=${PIDS[0]} rd_pid=${PIDS[1]}
# The rate limiter as a function: INCR a counter, give it a TTL on the first hit, 1 while under
# the limit and 0 past it (FCALL rate_limit 1 key window_seconds limit).
RATE_LIB='#!lua name=benchlib
redis.register_function("rate_limit", function(keys, args)
  local hits = redis.call("INCR", keys[1])
  if hits == 1 then redis.call("EXPIRE", keys[1], args[1]) end
  if hits > tonumber(args[2]) then return 0 end
  return 1
end)'

# Data the read tests need, as RESP files for redis-cli --pipe: a stream of 1000 entries, an
# HLL and a bitmap of 100000 random elements/bits, 100000 places in a 1x1 degree square.
python3 - "$WORK" <<'PY'
import random, sys
random.seed(7)
d = sys.argv[1]
def cmd(*a):
    return '*%d\r\n' % len(a) + ''.join('$%d\r\n%s\r\n' % (len(str(x)), x) for x in a)
with open(d + '/xrange.resp', 'w') as f:
    f.writelines(cmd('XADD', 'bench:xr', '*', 'f', 'v%d' % i) for i in range(1000))
with open(d + '/pfcount.resp', 'w') as f:
    for b in range(0, 100000, 100):
        f.write(cmd('PFADD', 'bench:hll', *('e%d' % i for i in range(b, b + 100))))
with open(d + '/bitcount.resp', 'w') as f:
    f.write(cmd('SETBIT', 'bench:bits', 99999, 1))
    f.writelines(cmd('SETBIT', 'bench:bits', random.randrange(100000), 1) for _ in range(30000))
with open(d + '/geosearch.resp', 'w') as f:
    for b in range(0, 100000, 100):
        pts = []
        for i in range(b, b + 100):
            pts += ['%.6f' % random.random(), '%.6f' % random.random(), 'm:%d' % i]
        f.write(cmd('GEOADD', 'bench:geo', *pts))
PY

# entries_file N: a stream of N entries with ids 1-1 ... N-1 (XACK names them by number).
entries_file() {
  local f=$WORK/entries-$1.resp
  [[ -f $f ]] || python3 - "$1" >"$f" <<'PY'
import sys
w = sys.stdout.write
for i in range(1, int(sys.argv[1]) + 1):
    i = str(i) + '-1'
    w('*5\r\n$4\r\nXADD\r\n$7\r\nbench:g\r\n$%d\r\n%s\r\n$1\r\nf\r\n$1\r\nv\r\n' % (len(i), i))
PY
  echo "$f"
}

# load PORT FILE: pipes a RESP file in; fails when any command of it failed.
load() {
  redis-cli -p "$1" --pipe <"$2" >"$WORK/load.log" 2>&1
  grep -q 'errors: 0,' "$WORK/load.log" || { echo "loading $2 on :$1 failed:" >&2; cat "$WORK/load.log" >&2; return 1; }
}

# prepare TEST PORT N: the state a test starts from, the same on both servers (an empty
# keyspace, so what one test wrote does not weigh on the next, plus the test's data).
prepare() {
  local t=$1 port=$2 n=$3
  redis-cli -p "$port" flushall >/dev/null
  case $t in
    xrange) load "$port" "$WORK/xrange.resp" ;;
    xreadgroup)
      load "$port" "$(entries_file "$n")"
      redis-cli -p "$port" xgroup create bench:g g 0 >/dev/null ;;
    pfcount) load "$port" "$WORK/pfcount.resp" ;;
    bitcount) load "$port" "$WORK/bitcount.resp" ;;
    geosearch) load "$port" "$WORK/geosearch.resp" ;;
    fcall)
      [[ $(redis-cli -p "$port" function load replace "$RATE_LIB") == benchlib ]] ||
        { echo "FUNCTION LOAD failed on :$port" >&2; return 1; } ;;
  esac
}

# The measured commands: name|-r range|command. __rand_int__ is 12 digits with leading zeros:
# fine inside key names, members, stream ids and float literals (`...e-5` puts coordinates in
# [0,1) degrees), not as a SETBIT offset (Redis refuses those), so SETBIT spreads over keys.
commands() {
  local n=$1 round=$2
  case $3 in
    xadd) echo "xadd|100000|XADD s * f v" ;;
    xrange) echo "xrange_10|100000|XRANGE bench:xr - + COUNT 10" ;;
    xreadgroup)
      echo "xreadgroup|100000|XREADGROUP GROUP g c COUNT 1 STREAMS bench:g >"
      echo "xack|$n|XACK bench:g g __rand_int__-1" ;;
    pfadd) echo "pfadd|100000|PFADD bench:hll_w __rand_int__" ;;
    pfcount) echo "pfcount|100000|PFCOUNT bench:hll" ;;
    setbit) echo "setbit|100000|SETBIT bench:bits:__rand_int__ 100 1" ;;
    bitcount) echo "bitcount|100000|BITCOUNT bench:bits" ;;
    geoadd) echo "geoadd|100000|GEOADD bench:geo_w __rand_int__e-5 __rand_int__e-5 m:__rand_int__" ;;
    geosearch) echo "geosearch_1km|100000|GEOSEARCH bench:geo FROMLONLAT __rand_int__e-5 __rand_int__e-5 BYRADIUS 1 km ASC" ;;
    fcall) echo "fcall_rate_limit|100000|FCALL rate_limit 1 rl:$round:__rand_int__ 60 100" ;;
  esac
}

# measure PORT PID P N RANGE CMD: "ops/s cpu-us-per-request" of one redis-benchmark run.
measure() {
  local port=$1 pid=$2 P=$3 n=$4 range=$5 before after rps
  read -ra words <<<"$6"
  before=$(cpu_us "$pid")
  rps=$(redis-benchmark -p "$port" -c "$CLIENTS" -n "$n" -r "$range" -P "$P" --csv "${words[@]}" </dev/null |
    awk -F'","' 'NR == 2 {print $2}')
  after=$(cpu_us "$pid")
  [[ -n $rps ]] || { echo "redis-benchmark gave no result for: $6" >&2; return 1; }
  echo "$rps $(awk -v a="$before" -v b="$after" -v n="$n" 'BEGIN {printf "%.2f", (b - a) / n}')"
}

echo
printf '%-18s %4s %12s %12s %7s %12s %12s\n' test P slotgate redis ratio 'sg us/req' 'redis us/req'
IFS=, read -ra extra <<<"$EXTRA"
for P in 16 1; do
  n=$N; [[ $P == 16 ]] && n=$((N * 5))
  declare -A sr sc rr rc; sr=(); sc=(); rr=(); rc=(); order=()
  for round in $(seq 1 "$ROUNDS"); do
    for t in "${extra[@]}"; do
      for who in sg rd; do
        port=${!who} pid_var=${who}_pid
        prepare "$t" "$port" "$n"
        while IFS='|' read -r name range line; do
          (( round == 1 )) && [[ $who == sg ]] && order+=("$name")
          read -r rps cpu < <(measure "$port" "${!pid_var}" "$P" "$n" "$range" "$line")
          if [[ $who == sg ]]; then sr[$name]+="$rps "; sc[$name]+="$cpu "; else rr[$name]+="$rps "; rc[$name]+="$cpu "; fi
        done < <(commands "$n" "$round" "$t")
      done
    done
  done
  for name in "${order[@]}"; do
    med() { tr ' ' '\n' <<<"$1" | grep . | median; }
    a=$(med "${sr[$name]}") b=$(med "${rr[$name]}")
    printf '%-18s %4s %12.0f %12.0f %7.2f %12.2f %12.2f\n' "$name" "$P" "$a" "$b" \
      "$(awk -v a="$a" -v b="$b" 'BEGIN {print a / b}')" "$(med "${sc[$name]}")" "$(med "${rc[$name]}")"
  done
done
