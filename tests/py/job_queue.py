"""The guide's job queue on a stream consumer group, and its rate limiter as a Redis function,
through redis-py against one Redis-compatible endpoint (a node, the proxy, or redis-server as
the reference).

The queue: a worker blocks in XREADGROUP until a producer adds a job, handles it and XACKs it;
a second worker reads a job and dies without acknowledging it; a third takes it over with
XAUTOCLAIM once it has been idle, handles it, and nothing stays pending. The rate limiter is a
library loaded with FUNCTION LOAD and called with FCALL: three calls pass, the rest are refused
until the window expires.

Usage: python3 job_queue.py <port>. Prints "ok"; exits non-zero with a message on a mismatch.
"""
import sys
import threading
import time

import redis

LIMITER = """#!lua name=ratelimit
redis.register_function('allow', function(keys, args)
  local n = redis.call('INCR', keys[1])
  if n == 1 then redis.call('PEXPIRE', keys[1], args[2]) end
  if n > tonumber(args[1]) then return 0 end
  return 1
end)
"""


def check(got, want, what):
    if got != want:
        sys.exit(f"{what}: got {got!r}, want {want!r}")


def job_queue(r, port):
    r.delete("jobs:py")
    check(r.xgroup_create("jobs:py", "workers", id="$", mkstream=True), True, "XGROUP CREATE MKSTREAM")

    def produce_later():
        time.sleep(0.3)
        redis.Redis(host="127.0.0.1", port=port, decode_responses=True).xadd("jobs:py", {"task": "resize", "id": "1"})

    producer = threading.Thread(target=produce_later)
    producer.start()
    started = time.time()
    got = r.xreadgroup("workers", "alice", {"jobs:py": ">"}, count=1, block=5000)
    producer.join()
    if time.time() - started > 3:
        sys.exit("XREADGROUP BLOCK woke late")
    check(len(got), 1, "XREADGROUP streams")
    stream, entries = got[0]
    check(stream, "jobs:py", "XREADGROUP stream name")
    job_id, fields = entries[0]
    check(fields, {"task": "resize", "id": "1"}, "XREADGROUP fields")
    check(r.xack("jobs:py", "workers", job_id), 1, "XACK")

    # bob takes the next job and dies before acknowledging it.
    second = r.xadd("jobs:py", {"task": "thumbnail", "id": "2"})
    got = r.xreadgroup("workers", "bob", {"jobs:py": ">"}, count=1)
    check(got[0][1][0][0], second, "bob's job")
    pending = r.xpending("jobs:py", "workers")
    check((pending["pending"], pending["consumers"]), (1, [{"name": "bob", "pending": 1}]), "XPENDING summary")
    time.sleep(0.2)
    # carol claims what has been idle for 100 ms.
    cursor, claimed, deleted = r.xautoclaim("jobs:py", "workers", "carol", min_idle_time=100, start_id="0-0")
    check([e[0] for e in claimed], [second], "XAUTOCLAIM claimed")
    check((cursor, deleted), ("0-0", []), "XAUTOCLAIM cursor and deleted ids")
    check(r.xack("jobs:py", "workers", second), 1, "XACK by carol")
    check(r.xpending("jobs:py", "workers")["pending"], 0, "nothing pending")
    check(r.xreadgroup("workers", "alice", {"jobs:py": ">"}, count=1, block=200), [], "XREADGROUP timing out")


def rate_limiter(r):
    check(r.function_load(LIMITER, replace=True), "ratelimit", "FUNCTION LOAD")
    r.delete("rl:py:user1")
    got = [r.fcall("allow", 1, "rl:py:user1", 3, 400) for _ in range(5)]
    check(got, [1, 1, 1, 0, 0], "FCALL allow within the window")
    time.sleep(0.6)
    check(r.fcall("allow", 1, "rl:py:user1", 3, 400), 1, "FCALL allow after the window")


def main() -> None:
    port = int(sys.argv[1])
    r = redis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=10)
    job_queue(r, port)
    rate_limiter(r)
    print("ok")


if __name__ == "__main__":
    main()
