"""A legacy application's cross-slot commands through redis-py (a plain client) against one
Redis-compatible endpoint: SUNIONSTORE, RENAME and a BLPOP over two keys woken by a push from
another connection. The keys carry no hash tags: behind slotgate-proxy they sit on different
slots. The same script runs against one redis-server as the reference.

Usage: python3 cross_slot.py <port>. Prints "ok"; exits non-zero with a message on any mismatch.
"""
import sys
import threading
import time

import redis


def check(got, want, what):
    if got != want:
        sys.exit(f"{what}: got {got!r}, want {want!r}")


def main() -> None:
    port = int(sys.argv[1])
    r = redis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=10)
    r.delete("tags:a", "tags:b", "tags:all", "cart:old", "cart:new", "jobs:high", "jobs:low")
    r.sadd("tags:a", "x", "y")
    r.sadd("tags:b", "y", "z")
    check(r.sunionstore("tags:all", ["tags:a", "tags:b"]), 3, "SUNIONSTORE")
    check(r.smembers("tags:all"), {"x", "y", "z"}, "SMEMBERS of the destination")
    r.hset("cart:old", mapping={"item": "42", "qty": "2"})
    r.expire("cart:old", 300)
    check(r.rename("cart:old", "cart:new"), True, "RENAME")
    check(r.hgetall("cart:new"), {"item": "42", "qty": "2"}, "HGETALL after RENAME")
    check(r.exists("cart:old"), 0, "EXISTS of the old name")
    ttl = r.ttl("cart:new")
    if not 290 <= ttl <= 300:
        sys.exit(f"RENAME lost the TTL: {ttl}")

    def push_later():
        time.sleep(0.3)
        redis.Redis(host="127.0.0.1", port=port, decode_responses=True).rpush("jobs:low", "job-1")

    pusher = threading.Thread(target=push_later)
    pusher.start()
    started = time.time()
    check(r.blpop(["jobs:high", "jobs:low"], timeout=5), ("jobs:low", "job-1"), "BLPOP over two keys")
    pusher.join()
    if time.time() - started > 3:
        sys.exit("BLPOP woke late")
    check(r.blpop(["jobs:high", "jobs:low"], timeout=0.2), None, "BLPOP timing out")
    print("ok")


if __name__ == "__main__":
    main()
