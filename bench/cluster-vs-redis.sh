#!/usr/bin/env bash
# A 3-master slotgate-node cluster vs a 3-master Redis 7.0 cluster in the same run, both built
# with redis-cli --cluster create and driven by redis-benchmark --cluster (SET/GET, -c 50,
# -P 1 and -P 16), alternating, median of ROUNDS. Prints requests/s, the ratio slotgate/redis,
# and the time from `redis-cli --cluster create` to cluster_state:ok on every node.
# --cluster makes redis-benchmark multi-threaded, and a threaded run rounds its elapsed time up
# to its 250 ms timer: runs are sized to last seconds so that rounding stays small.
# Usage: bench/cluster-vs-redis.sh   (env: ROUNDS=3 N=400000 CLIENTS=50 TESTS=set,get)
source "$(dirname "$0")/common.sh"
ensure_tools
ROUNDS=${ROUNDS:-3} N=${N:-400000} CLIENTS=${CLIENTS:-50} TESTS=${TESTS:-set,get}

read -r -a ports <<<"$(cluster_ports 6)"
sg=("${ports[@]:0:3}") rd=("${ports[@]:3:3}")
start_cluster "$NODE_BIN" "${sg[@]}"; sg_ms=$CREATE_MS
start_cluster redis-server "${rd[@]}"; rd_ms=$CREATE_MS

echo "slotgate cluster :${sg[*]}  vs  $(redis-server --version | cut -d' ' -f3) cluster :${rd[*]}"
echo "create -> cluster_state:ok on every node: slotgate ${sg_ms} ms, redis ${rd_ms} ms"
echo "redis-benchmark --cluster -c $CLIENTS -r 100000 -n N (P=1: N=$N, P=16: N=$((N * 10))), median of $ROUNDS"
printf '%-8s %3s %12s %12s %6s\n' test P 'slotgate rps' 'redis rps' ratio
for P in 1 16; do
  n=$N; [[ $P == 16 ]] && n=$((N * 10))
  declare -A rps; rps=()
  for round in $(seq 1 "$ROUNDS"); do
    for who in slotgate redis; do
      if [[ $who == slotgate ]]; then port=${sg[0]}; else port=${rd[0]}; fi
      while IFS=, read -r name r _rest; do
        rps["$who|${name//\"/}"]+="${r//\"/} "
      done < <(redis-benchmark --cluster -p "$port" -c "$CLIENTS" -n "$n" -r 100000 -P "$P" -t "$TESTS" --csv |
                 grep '^"' | grep -v '^"test"')
    done
  done
  for key in "${!rps[@]}"; do
    [[ $key == slotgate\|* ]] || continue
    name=${key#slotgate|}
    med() { tr ' ' '\n' <<<"$1" | grep . | median; }
    a=$(med "${rps[slotgate|$name]}"); b=$(med "${rps[redis|$name]}")
    printf '%-8s %3s %12.0f %12.0f %6.2f\n' "$name" "$P" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN{print a/b}')"
  done | sort
done
