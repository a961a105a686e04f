#!/usr/bin/env bash
# What TLS costs: redis-benchmark through slotgate-proxy (in front of a 3-master Redis 7.0
# cluster) on its plain and its TLS port, and against Debian's redis-server on its plain and
# TLS ports, in alternation. Prints requests/s for each, each target's TLS/plain ratio, and
# the proxy's ratio over redis-server's (target: at least 1.0, i.e. TLS costs the proxy no
# more than it costs redis-server).
# Usage: bench/tls-overhead.sh   (env: ROUNDS=3 N=100000 CLIENTS=50 TESTS=set,get)
source "$(dirname "$0")/common.sh"
ensure_tools
command -v openssl >/dev/null || { apt-get update -qq && apt-get install -y -qq openssl >/dev/null; }
PROXY_BIN=$ROOT/target/release/slotgate-proxy
ROUNDS=${ROUNDS:-3} N=${N:-100000} CLIENTS=${CLIENTS:-50} TESTS=${TESTS:-set,get}

# A CA and a certificate for 127.0.0.1.
pki=$WORK/pki; mkdir -p "$pki"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -out "$pki/ca.crt" -days 2 -subj "/CN=bench-ca" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$pki/server.key" -out "$pki/server.csr" -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$pki/ext"
openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
  -out "$pki/server.crt" -days 2 -extfile "$pki/ext" 2>/dev/null

read -r -a nodes <<<"$(cluster_ports 3)"
start_cluster redis-server "${nodes[@]}"
pp=$(free_port) pt=$(free_port)
"$PROXY_BIN" --listen "127.0.0.1:$pp" --seed "127.0.0.1:${nodes[0]}" --tls-listen "127.0.0.1:$pt" \
  --tls-cert-file "$pki/server.crt" --tls-key-file "$pki/server.key" >"$WORK/proxy.log" 2>&1 &
PIDS+=($!)
wait_ping "$pp"

rp=$(free_port) rt=$(free_port)
start_server redis-server "$rp" --tls-port "$rt" --tls-cert-file "$pki/server.crt" --tls-key-file "$pki/server.key" \
  --tls-ca-cert-file "$pki/ca.crt" --tls-auth-clients no --save "" --appendonly no

tls=(--tls --cacert "$pki/ca.crt")
[[ $(redis-cli "${tls[@]}" -p "$pt" set bench:probe 1) == OK ]] || { echo "the proxy's TLS port does not serve" >&2; exit 1; }
[[ $(redis-cli "${tls[@]}" -p "$rt" ping) == PONG ]] || { echo "redis-server's TLS port does not serve" >&2; exit 1; }

echo "slotgate-proxy :$pp plain, :$pt TLS, in front of 3-master $(redis-server --version | cut -d' ' -f3) cluster; redis-server :$rp plain, :$rt TLS"
echo "redis-benchmark -c $CLIENTS -r 100000 (P=1: N=$N, P=16: N=$((N * 5))), median of $ROUNDS, alternating"
printf '%-6s %3s %12s %12s %6s %12s %12s %6s %12s\n' test P 'proxy plain' 'proxy TLS' ratio 'redis plain' 'redis TLS' ratio 'proxy/redis'
for P in 1 16; do
  n=$N; [[ $P == 16 ]] && n=$((N * 5))
  declare -A rps; rps=()
  for round in $(seq 1 "$ROUNDS"); do
    for who in proxy-plain proxy-tls redis-plain redis-tls; do
      case $who in
        proxy-plain) target=(-p "$pp") ;;
        proxy-tls) target=("${tls[@]}" -p "$pt") ;;
        redis-plain) target=(-p "$rp") ;;
        redis-tls) target=("${tls[@]}" -p "$rt") ;;
      esac
      while IFS=, read -r name r _rest; do
        name=${name//\"/}
        rps[$who|$name]+="${r//\"/} "
      done < <(redis-benchmark "${target[@]}" -c "$CLIENTS" -n "$n" -r 100000 -P "$P" -t "$TESTS" --csv |
                 grep '^"' | grep -v '^"test"')
    done
  done
  for name in $(tr ',' '\n' <<<"${TESTS^^}"); do
    med() { tr ' ' '\n' <<<"${rps[$1|$name]}" | grep . | median; }
    a=$(med proxy-plain) b=$(med proxy-tls) c=$(med redis-plain) d=$(med redis-tls)
    awk -v n="$name" -v P="$P" -v a="$a" -v b="$b" -v c="$c" -v d="$d" \
      'BEGIN { printf "%-6s %3s %12.0f %12.0f %6.2f %12.0f %12.0f %6.2f %12.2f\n", n, P, a, b, b/a, c, d, d/c, (b/a)/(d/c) }'
  done
done
