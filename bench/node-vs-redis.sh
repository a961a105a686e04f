#!/usr/bin/env bash
# slotgate-node vs Debian's redis-server 7.0, same settings, redis-benchmark in alternation.
# Prints requests/s per test and pipeline depth (median of ROUNDS runs each) and the ratio.
# Also the data-model tests and the guide's rate-limit script through EVAL.
# Usage: bench/node-vs-redis.sh   (env: ROUNDS=3 N=200000 CLIENTS=50 TESTS=...)
source "$(dirname "$0")/common.sh"
ensure_tools
ROUNDS=${ROUNDS:-3} N=${N:-200000} CLIENTS=${CLIENTS:-50} TESTS=${TESTS:-set,get,incr,mset,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100}
RATE_LIMIT="local c = tonumber(redis.call('GET', KEYS[1]) or '0') if c + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return c end return redis.call('INCRBY', KEYS[1], ARGV[1])"
sg=$(free_port); rd=$(free_port)
start_server "$NODE_BIN" "$sg" --save "" --appendonly no
start_server redis-server "$rd" --save "" --appendonly no
echo "slotgate-node :$sg  vs  $(redis-server --version | cut -d' ' -f3) :$rd   (-c $CLIENTS -n N -r 100000, median of $ROUNDS)"
printf '%-16s %4s %14s %14s %7s\n' test P slotgate redis ratio
for P in 1 16; do
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
