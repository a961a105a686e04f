"""The guide's scenarios through redis-py (a plain, non-cluster client) against one
Redis-compatible endpoint, mirroring tests/js/guide_scenarios.js: a session update in one
pipeline, the rate limiter in Lua, and MSET/MGET over many keys.

Usage: python3 guide_scenarios.py <port>. Prints "ok"; exits non-zero with a message on any
mismatch.
"""
import sys
import time

import redis

RATE_LIMIT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local increment = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
if current + increment > limit then
  return current
end
return redis.call('INCRBY', KEYS[1], increment)
"""


def main() -> None:
    port = int(sys.argv[1])
    r = redis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=10)
    try:
        uid = 1000
        now = int(time.time() * 1000)
        session, activity = f"user:{{{uid}}}:session", f"user:{{{uid}}}:activity"
        # Scenario 3: session update in one pipeline (no MULTI), keys in one slot by a hash tag.
        pipe = r.pipeline(transaction=False)
        pipe.hset(session, mapping={"lastSeen": str(now), "ip": "10.0.0.1", "agent": "test"})
        pipe.expire(session, 3600)
        pipe.zadd(activity, {"login": now})
        results = pipe.execute()
        assert results == [3, True, 1], results
        assert r.hget(session, "ip") == "10.0.0.1"
        ttl = r.ttl(session)
        assert 3590 < ttl <= 3600, f"ttl {ttl}"
        assert r.zrange(activity, 0, -1, withscores=True) == [("login", float(now))]

        # Scenario 4: the rate limiter, increment 1, limit 100, on rate_limit:user:1000
        # (register_script runs EVALSHA and falls back to EVAL on NOSCRIPT).
        rate_limit = r.register_script(RATE_LIMIT)
        key = "rate_limit:user:1000"
        r.delete(key)
        for i in range(1, 101):
            got = rate_limit(keys=[key], args=[1, 100])
            assert got == i, f"call {i} returned {got}"
        assert rate_limit(keys=[key], args=[1, 100]) == 100, "over the limit returns the counter unchanged"
        assert r.eval(RATE_LIMIT, 1, key, 1, 100) == 100
        assert r.get(key) == "100"

        # MSET/MGET over keys in many slots.
        kv = {f"k:{i}": f"v{i}" for i in range(50)}
        assert r.mset(kv) is True
        assert r.mget(list(kv) + ["missing"]) == list(kv.values()) + [None]
        print("ok")
    finally:
        r.close()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - report any failure with its traceback
        import traceback

        traceback.print_exc()
        sys.exit(1)
