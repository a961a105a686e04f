"""redis-py's client-side cache (RESP3, CLIENT TRACKING ON, invalidation pushes) against a
server while another client writes, expires, evicts and flushes the cached keys: every read
must return what the server holds.

Usage: client_cache.py PORT basic|evict

redis-py 5.3 turns its cache on only for servers that report version 7.4 or later; the cache
itself relies on nothing newer than Redis 6's CLIENT TRACKING ON and RESP3 invalidation
pushes, so the gate is lowered to 7.0 for slotgate-node and redis-server 7.0 alike.
"""

import sys
import time

import redis
from redis.cache import CacheConfig
from redis.connection import CacheProxyConnection

CacheProxyConnection.MIN_ALLOWED_VERSION = "7.0.0"


def get_calls(w):
    return int(w.info("commandstats").get("cmdstat_get", {}).get("calls", 0))


def check(cond, what):
    if not cond:
        print("FAIL", what)
        sys.exit(1)


LATE = [0]


def settle(read, want, what):
    """A read after another client's write: the invalidation travels on another connection,
    so it may trail the writer's reply by a moment (redis-server too); within 200 ms the
    cached client must read the server's value."""
    got = read()
    if got == want:
        return
    LATE[0] += 1
    deadline = time.monotonic() + 0.2
    while time.monotonic() < deadline:
        time.sleep(0.002)
        got = read()
        if got == want:
            return
    check(False, f"{what}: cached client read {got!r}, server holds {want!r}")


def fresh(r, w, key, reader="get"):
    """The cached client's read equals the server's value."""
    want = getattr(w, reader)(key)
    settle(lambda: getattr(r, reader)(key), want, f"{reader} {key}")


def basic(r, w):
    w.flushall()
    # Writes by another client: each read after a write sees the new value.
    for i in range(300):
        key = f"k{i % 20}"
        w.set(key, f"v{i}")
        settle(lambda: r.get(key), f"v{i}", f"get {key} after set v{i}")
        check(r.get(key) == f"v{i}", f"cached get {key}")
    # The cache really serves: repeated reads do not reach the server.
    r.get("k0")
    before = get_calls(w)
    for _ in range(50):
        check(r.get("k0") == "v280", "cached k0")
    check(get_calls(w) == before, f"reads reached the server: {get_calls(w) - before}")
    # Other types and commands.
    w.hset("h", mapping={"a": "1", "b": "2"})
    fresh(r, w, "h", "hgetall")
    w.hset("h", "a", "changed")
    fresh(r, w, "h", "hgetall")
    w.rpush("l", "x", "y")
    settle(lambda: r.lrange("l", 0, -1), ["x", "y"], "lrange")
    w.lpop("l")
    settle(lambda: r.lrange("l", 0, -1), ["y"], "lrange after lpop")
    w.delete("k1")
    settle(lambda: r.get("k1"), None, "get after del")
    w.rename("k2", "k1")
    settle(lambda: r.get("k2"), None, "k2 after rename")
    settle(lambda: r.get("k1"), "v282", "k1 after rename")
    # Transactions and scripts.
    with w.pipeline(transaction=True) as p:
        p.set("k3", "m1")
        p.append("k3", "+")
        p.execute()
    settle(lambda: r.get("k3"), "m1+", "multi")
    w.eval("return redis.call('set', KEYS[1], ARGV[1])", 1, "k4", "from-script")
    settle(lambda: r.get("k4"), "from-script", "script write")
    # Expiry: the active cycle removes the key and tells the cache.
    w.set("e1", "soon", px=300)
    check(r.get("e1") == "soon", "get e1")
    before = get_calls(w)
    check(r.get("e1") == "soon", "cached e1")
    check(get_calls(w) == before, "e1 not cached")
    w.set("e2", "x")
    check(r.get("e2") == "x", "get e2")
    w.pexpire("e2", 200)
    settle(lambda: r.get("e2"), "x", "get e2 after pexpire")
    time.sleep(0.9)
    check(r.get("e1") is None, "e1 after expiry")
    check(r.get("e2") is None, "e2 after expiry")
    # A flush invalidates everything.
    check(r.get("k5") is not None, "k5")
    w.flushall()
    settle(lambda: r.get("k5"), None, "k5 after flushall")
    w.set("k5", "again")
    settle(lambda: r.get("k5"), "again", "k5 after flushall and set")
    print(f"OK basic late={LATE[0]}")


def evict(r, w):
    w.flushall()
    w.config_set("maxmemory-policy", "allkeys-random")
    used = int(w.info("memory")["used_memory"])
    w.config_set("maxmemory", used + 3 * 1024 * 1024)
    cached = []
    for i in range(8000):
        key = f"ev{i}"
        w.set(key, "x" * 1000 + str(i))
        if i % 4 == 0:
            # Evictions run before every command, this read included: the key may already be
            # gone, and then the fresh answer is None.
            got = r.get(key)
            if got is None:
                check(w.exists(key) == 0, f"get {key}: None while the key exists")
                continue
            check(got == "x" * 1000 + str(i), f"get {key}")
            cached.append(key)
    evicted = int(w.info("stats")["evicted_keys"])
    check(evicted > 0, "nothing was evicted")
    gone = 0
    for key in cached:
        want = w.get(key)
        settle(lambda: r.get(key), want, key)
        gone += want is None
    check(gone > 0, "no cached key was evicted")
    w.config_set("maxmemory", 0)
    print(f"OK evict evicted={evicted} cached_and_evicted={gone}")


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    r = redis.Redis(port=port, protocol=3, cache_config=CacheConfig(max_size=100000), decode_responses=True)
    w = redis.Redis(port=port, decode_responses=True)
    {"basic": basic, "evict": evict}[mode](r, w)


if __name__ == "__main__":
    main()
