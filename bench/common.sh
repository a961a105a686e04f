# Shared helpers for the benchmark scripts: free ports, process start/stop, RSS.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NODE_BIN=$ROOT/target/release/slotgate-node
# REDIS_ONLY=1: a second redis-server stands in for slotgate-node and nothing is built (to try
# a script where the node lacks the commands it measures).
[[ ${REDIS_ONLY:-0} == 1 ]] && NODE_BIN=$(command -v redis-server)
WORK=$(mktemp -d /tmp/slotgate-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.3; rm -rf "$WORK"; }
trap cleanup EXIT

ensure_tools() {
  command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null || {
    apt-get update -qq && apt-get install -y -qq redis-server redis-tools >/dev/null; }
  [[ ${REDIS_ONLY:-0} == 1 ]] || (cd "$ROOT" && cargo build --release --bins -q)
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_ping() { for _ in $(seq 1 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "server on $1 did not start" >&2; return 1; }

# start_server BIN PORT ARGS... : starts a server in its own dir, records its pid.
start_server() {
  local bin=$1 port=$2; shift 2
  local dir=$WORK/$port; mkdir -p "$dir"
  "$bin" --port "$port" --bind 127.0.0.1 --dir "$dir" "$@" >"$dir/log" 2>&1 &
  PIDS+=($!)
  wait_ping "$port"
}

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# CPU time a process has used, user + system over all its threads, in microseconds (from
# /proc/PID/stat, which the load generator cannot distort).
cpu_us() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) * 1000000 / hz}' "/proc/$1/stat"; }

# median of numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# Cluster nodes need their port and port+10000 (the cluster bus) free; both stay below the
# ephemeral range so outgoing connections cannot take them.
cluster_ports() {
  python3 - "$1" <<'PY'
import random, socket, sys
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
ports = []
while len(ports) < int(sys.argv[1]):
    p = random.randrange(15000, 25000)
    if p not in ports and free(p) and free(p + 10000):
        ports.append(p)
print(*ports)
PY
}

# start_cluster BIN PORT... : starts cluster nodes on the ports and joins them with
# redis-cli --cluster create; sets CREATE_MS to the milliseconds from create until every node
# is ok. (Not in a subshell: the pids must reach PIDS for the cleanup.)
start_cluster() {
  local bin=$1; shift
  local p
  for p in "$@"; do
    start_server "$bin" "$p" --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout 5000 --save "" --appendonly no
  done
  local t0; t0=$(date +%s%N)
  redis-cli --cluster create $(printf '127.0.0.1:%s ' "$@") --cluster-replicas 0 --cluster-yes >"$WORK/create-$1.log" 2>&1 ||
    { cat "$WORK/create-$1.log" >&2; return 1; }
  local i ok
  for i in $(seq 1 600); do
    ok=1
    for p in "$@"; do redis-cli -p "$p" cluster info | grep -q '^cluster_state:ok' || { ok=0; break; }; done
    [[ $ok == 1 ]] && break
    sleep 0.01
  done
  [[ $ok == 1 ]] || { echo "the cluster on $* did not reach cluster_state:ok" >&2; return 1; }
  CREATE_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}
