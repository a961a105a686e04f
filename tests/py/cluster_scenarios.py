"""The guide's scenarios through redis-py's cluster client (RedisCluster: slot map from
CLUSTER SLOTS, MOVED/ASK handling) against a Redis-Cluster-compatible deployment of three
masters, mirroring tests/js/cluster_scenarios.js: SET/GET of keys spread over every master, a
hash-tagged session pipeline, MSET/MGET on one slot and the rate limiter in Lua.

Usage: python3 cluster_scenarios.py <port> [<port>...] (seed nodes on 127.0.0.1). Prints "ok";
exits non-zero with a message on any mismatch, and with 2 if the whole run exceeds 30s.
"""
import signal
import sys
import time

from redis.cluster import ClusterNode, RedisCluster, key_slot

RATE_LIMIT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local increment = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
if current + increment > limit then
  return current
end
return redis.call('INCRBY', KEYS[1], increment)
"""

OVERALL_TIMEOUT_S = 30


def main() -> None:
    ports = [int(p) for p in sys.argv[1:]]
    if not ports:
        print("usage: python3 cluster_scenarios.py <port> [<port>...]", file=sys.stderr)
        sys.exit(64)
    rc = RedisCluster(
        startup_nodes=[ClusterNode("127.0.0.1", p) for p in ports],
        decode_responses=True,
        socket_timeout=10,
        socket_connect_timeout=5,
    )
    try:
        # SET/GET of keys spread over all three masters' slot ranges.
        keys = [f"cs:key:{i}" for i in range(200)]
        # Default three-master split: 0-5460, 5461-10922, 10923-16383.
        ranges = {0 if s <= 5460 else 1 if s <= 10922 else 2 for s in (key_slot(k.encode()) for k in keys)}
        assert len(ranges) == 3, "test keys should cover every master"
        for k in keys:
            assert rc.set(k, f"val-{k}") is True, f"SET {k}"
        for k in keys:
            got = rc.get(k)
            assert got == f"val-{k}", f"GET {k} returned {got!r}"

        # Scenario 3: session update in one pipeline, keys kept in one slot by a hash tag.
        uid = 1000
        now = int(time.time() * 1000)
        session, activity = f"user:{{{uid}}}:session", f"user:{{{uid}}}:activity"
        rc.delete(session)
        rc.delete(activity)
        pipe = rc.pipeline()  # cluster pipelines are non-transactional
        pipe.hset(session, mapping={"lastSeen": str(now), "ip": "10.0.0.1", "agent": "test"})
        pipe.expire(session, 3600)
        pipe.zadd(activity, {"login": now})
        results = pipe.execute()
        assert results == [3, True, 1], results
        assert rc.hget(session, "ip") == "10.0.0.1"
        ttl = rc.ttl(session)
        assert 3590 < ttl <= 3600, f"ttl {ttl}"
        got = rc.zrange(activity, 0, -1, withscores=True)
        assert got == [("login", float(now))], got

        # MSET/MGET of several keys on one slot (hash tag {1000}).
        kv = {f"mk:{{{uid}}}:{i}": f"mv{i}" for i in range(10)}
        assert rc.mset(kv) is True
        got = rc.mget(list(kv) + [f"mk:{{{uid}}}:missing"])
        assert got == list(kv.values()) + [None], got

        # Scenario 4: the rate limiter, increment 1, limit 100, five calls.
        rl = f"rate_limit:{{{uid}}}"
        rc.delete(rl)
        for i in range(1, 6):
            got = rc.eval(RATE_LIMIT, 1, rl, 1, 100)
            assert got == i, f"EVAL call {i} returned {got!r}"
        assert rc.get(rl) == "5"
        print("ok")
    finally:
        rc.close()


def _timeout(signum, frame):  # noqa: ARG001 - signal handler signature
    print(f"cluster_scenarios.py: timed out after {OVERALL_TIMEOUT_S}s", file=sys.stderr)
    sys.stderr.flush()
    import os

    os._exit(2)


if __name__ == "__main__":
    signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(OVERALL_TIMEOUT_S)
    try:
        main()
    except Exception:  # noqa: BLE001 - report any failure with its traceback
        import traceback

        traceback.print_exc()
        sys.exit(1)
